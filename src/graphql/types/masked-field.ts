import { builder, personal } from '../builder.js';

export const MASK_REASONS = [
  'PARTIAL',
  'ENRICHMENT_OPT_OUT',
  'NO_MARKETING_CONSENT',
  'DO_NOT_SELL',
  'PROCESSING_RESTRICTED',
  'OBJECTION',
  'ERASED',
] as const;
export type MaskReason = (typeof MASK_REASONS)[number];

export const MaskReasonEnum = builder.enumType('MaskReason', { values: MASK_REASONS });

export interface MaskedFieldValue {
  field: string;
  reason: MaskReason;
}

export const MaskedFieldRef = builder.objectRef<MaskedFieldValue>('MaskedField').implement({
  extensions: personal,
  description: 'Why a value of this person is null or partial.',
  fields: (t) => ({
    field: t.exposeString('field'),
    reason: t.field({ type: MaskReasonEnum, resolve: (masked) => masked.reason }),
  }),
});
