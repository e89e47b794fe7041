/** MQTT topic filter matching (`+`, `#`, and `$share/<group>/` shared subscriptions). */
export function stripShare(filter: string): string {
  const match = /^\$share\/[^/]+\/(.*)$/.exec(filter);
  return match ? match[1]! : filter;
}

export function topicMatches(filter: string, topic: string): boolean {
  const f = stripShare(filter).split('/');
  const t = topic.split('/');
  // Wildcards at the first level never match topics beginning with $ (MQTT 3.1.1 §4.7.2).
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Validates a topic we publish to: no wildcards, no empty or over-long topics. */
export function isPublishableTopic(topic: string): boolean {
  return (
    topic.length > 0 &&
    Buffer.byteLength(topic) <= 65535 &&
    !topic.includes('+') &&
    !topic.includes('#') &&
    !topic.includes(String.fromCharCode(0))
  );
}
