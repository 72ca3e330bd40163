import { createHash } from 'node:crypto';

/**
 * POLICY.md's partial masks: email keeps the first character of the local part and the whole
 * domain (q***@example.net); phone keeps the last 4 digits (***-6027).
 */
export function partialEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

export function partialPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return digits.length < 4 ? '***' : `***-${digits.slice(-4)}`;
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export type Mask = (value: string) => string;

const partialMasks: Record<string, Mask> = {
  'user.contact.email': partialEmail,
  'user.contact.phone': partialPhone,
};

const normalisers: Record<string, (value: string) => string> = {
  'user.contact.email': normaliseEmail,
};

/** The mask a category gets at a level, or undefined when the value passes unchanged. */
export function maskFor(category: string, level: 'partial' | 'hash'): Mask {
  if (level === 'hash') {
    const normalise = normalisers[category] ?? ((value: string) => value.trim());
    return (value) => sha256Hex(normalise(value));
  }
  const mask = partialMasks[category];
  // The policy loader refuses `partial` on any category without a rule; this is the backstop.
  return mask ?? (() => '***');
}
