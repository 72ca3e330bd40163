import type { Plugin } from 'graphql-yoga';

/**
 * Responses carry personal data: no cache (browser, proxy or CDN) may keep them, and no browser
 * may sniff them into something executable.
 */
export function useSecurityHeaders(): Plugin {
  return {
    onResponse({ response }) {
      response.headers.set('cache-control', 'no-store');
      response.headers.set('x-content-type-options', 'nosniff');
    },
  };
}
