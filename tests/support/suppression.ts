/**
 * POLICY.md "Aggregates", written from the text and independent of the gateway's SQL: buckets
 * under the minimum show neither count nor value; the hidden buckets are reported together as one
 * SUPPRESSED bucket with their total when it is at least the minimum; and suppression is
 * complementary: while the hidden total is between 1 and minimum - 1, the smallest visible bucket
 * is hidden too (of equal ones, the later value first). A hidden total under the minimum with
 * nothing visible is reported as nothing at all.
 */
export function expectedBuckets(people: ReadonlyMap<string, number>, minimum = 5): { value: string; count: number | null }[] {
  const visible = [...people].filter(([, count]) => count >= minimum).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  let hidden = [...people].filter(([, count]) => count > 0 && count < minimum).reduce((sum, [, count]) => sum + count, 0);
  while (hidden > 0 && hidden < minimum && visible.length > 0) hidden += visible.pop()![1];
  const buckets: { value: string; count: number | null }[] = visible.map(([value, count]) => ({ value, count }));
  // Fewer hidden than the minimum can only remain when nothing is visible: then no bucket at all,
  // exactly as for nobody, so not even their existence shows.
  if (hidden >= minimum) buckets.push({ value: 'SUPPRESSED', count: hidden });
  return buckets.sort((a, b) => a.value.localeCompare(b.value));
}
