import { MASK_REASONS, type MaskReason } from '../../policy/policy.js';
import { builder, personal } from '../builder.js';

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
