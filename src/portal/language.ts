/** The portal's two languages and how a request chooses one. */
export const languages = ['en', 'fr'] as const;
export type Language = (typeof languages)[number];

const isLanguage = (value: string): value is Language =>
  (languages as readonly string[]).includes(value);

/**
 * `?lang=` wins when it names a portal language; otherwise the first language in
 * Accept-Language (by q-value) that the portal speaks; otherwise English.
 */
export function pickLanguage(
  query: string | undefined,
  acceptLanguage: string | undefined,
): Language {
  if (query && isLanguage(query)) return query;
  if (acceptLanguage) {
    const ranked = acceptLanguage
      .slice(0, 500)
      .split(',')
      .map((part, order) => {
        const [tag = '', ...params] = part.trim().split(';');
        const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean);
        return { base: tag.trim().toLowerCase().split('-')[0] ?? '', q: q ? Number(q) : 1, order };
      })
      .filter((r) => r.q > 0)
      .sort((a, b) => b.q - a.q || a.order - b.order);
    for (const { base } of ranked) if (isLanguage(base)) return base;
  }
  return 'en';
}
