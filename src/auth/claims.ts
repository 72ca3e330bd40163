import { z } from 'zod';

/** The claims CONTRACT.md fixes, after the signature, issuer, audience and expiry are verified. */
export const tokenClaimsSchema = z.object({
  sub: z.string().min(1).max(200),
  tenant: z.string().min(1).max(200).optional(),
  roles: z.array(z.string().max(100)).min(1).max(20),
  purposes: z.array(z.string().max(100)).max(50).optional(),
  jti: z.string().min(1).max(200).optional(),
});

export type TokenClaims = z.infer<typeof tokenClaimsSchema>;
