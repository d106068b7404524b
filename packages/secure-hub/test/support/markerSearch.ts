// Searching a recording for many markers at once, in every form a hub might carry them in.

export interface Needle {
  readonly marker: string;
  readonly form: string;
  readonly bytes: Buffer;
}

export interface Hit {
  readonly marker: string;
  readonly form: string;
  readonly at: number;
}

/**
 * The forms of a marker (a hex string of random bytes) to look for: its text as UTF-8 (how JSON and the broker's
 * strings carry it) and UTF-16 (both byte orders), the bytes it spells (a hub that sent it as binary), and base64 and
 * base64url of either (a hub that encoded binary as text).
 */
export function markerForms(marker: string): Needle[] {
  const text = Buffer.from(marker, 'utf8');
  const raw = Buffer.from(marker, 'hex');
  const utf16be = Buffer.from(marker, 'utf16le').swap16();
  const forms: Array<[string, Buffer]> = [
    ['utf8', text],
    ['utf16le', Buffer.from(marker, 'utf16le')],
    ['utf16be', utf16be],
    ['bytes', raw],
    ['hex of utf8', Buffer.from(text.toString('hex'), 'utf8')],
    // base64 of a stretch that starts on a 3-byte boundary of whatever was encoded, wherever the marker sat in it
    ...[0, 1, 2].flatMap((k): Array<[string, Buffer]> => [
      [`base64 of bytes +${k}`, Buffer.from(raw.subarray(k, k + 12).toString('base64'), 'utf8')],
      [`base64url of bytes +${k}`, Buffer.from(raw.subarray(k, k + 12).toString('base64url'), 'utf8')],
      [`base64 of utf8 +${k}`, Buffer.from(text.subarray(k, k + 27).toString('base64'), 'utf8')],
      [`base64url of utf8 +${k}`, Buffer.from(text.subarray(k, k + 27).toString('base64url'), 'utf8')],
    ]),
  ];
  return forms.map(([form, bytes]) => ({ marker, form, bytes }));
}

/** Every occurrence of any needle (each at least 4 bytes long) in `haystack`, in one pass. */
export function findMarkers(haystack: Buffer, needles: readonly Needle[]): Hit[] {
  const byPrefix = new Map<number, Needle[]>();
  for (const needle of needles) {
    if (needle.bytes.length < 4) throw new Error('a needle must be at least 4 bytes long');
    const key = needle.bytes.readUInt32LE(0);
    const list = byPrefix.get(key);
    if (list) list.push(needle);
    else byPrefix.set(key, [needle]);
  }
  const hits: Hit[] = [];
  for (let at = 0; at + 4 <= haystack.length; at++) {
    const candidates = byPrefix.get(haystack.readUInt32LE(at));
    if (!candidates) continue;
    for (const needle of candidates) {
      if (at + needle.bytes.length <= haystack.length && haystack.compare(needle.bytes, 0, needle.bytes.length, at, at + needle.bytes.length) === 0) {
        hits.push({ marker: needle.marker, form: needle.form, at });
      }
    }
  }
  return hits;
}
