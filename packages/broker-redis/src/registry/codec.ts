import type { RecordValue, RegistryKey, StorageChange, StoredRecord } from '@vnf/core';

/*
 * How records and names are kept in Redis (see ./scripts.ts for the layout).
 *
 * Names, collections and owners are written as the hex of their UTF-16 code units, four digits a unit. Redis orders
 * ZRANGEBYLEX by bytes; fixed-width hex makes byte order the code-unit order the contract asks for (plain UTF-8
 * would put U+E000–U+FFFF after astral characters, whose surrogates are below them in UTF-16), keeps lone
 * surrogates intact (UTF-8 cannot carry them) and leaves no separator a name could contain.
 */

/** The hex of `text`'s UTF-16 code units, four lowercase digits each. */
export function hex(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) out += text.charCodeAt(i).toString(16).padStart(4, '0');
  return out;
}

/** The record as JSON, without what the script assigns (version, revision): `[collection, name, owner, json, bytes, retained, will]`. */
type StaticRecord = [string, string, string, string, number, 0 | 1, [string | null, number] | null];

/** What a write passes to the WRITE script for `value` at `key` (ARGV 6 to 11). */
export function valueArgs(key: RegistryKey, value: RecordValue): string[] {
  const will = value.will;
  const charged = value.bytes + (will?.bytes ?? 0);
  const fixed: StaticRecord = [key.collection, key.name, value.owner, value.json, value.bytes, value.retained ? 1 : 0, will ? [will.json, will.bytes] : null];
  // What the record becomes when its owner's lease runs out: prepared here, as the script writes no JSON.
  const willRecord: StaticRecord | null = will && will.json !== null ? [key.collection, key.name, value.owner, will.json, will.bytes, 1, null] : null;
  return [hex(value.owner), String(value.bytes), String(charged), value.retained ? '1' : '0', JSON.stringify(fixed), willRecord ? JSON.stringify(willRecord) : ''];
}

/** A stored record (`version\nrevision\nbytes\ncharged\nretained\nowner\nstatic\nwill`) as the contract hands it out. */
export function decodeRecord(stored: string): StoredRecord {
  let at = 0;
  const lines: string[] = [];
  for (let i = 0; i < 7; i++) {
    const nl = stored.indexOf('\n', at);
    if (nl < 0) throw new Error('a stored registry record is malformed');
    lines.push(stored.slice(at, nl));
    at = nl + 1;
  }
  const [collection, name, owner, json, bytes, retained, will] = JSON.parse(lines[6]!) as StaticRecord;
  const record: StoredRecord = { collection, name, owner, version: Number(lines[0]), revision: Number(lines[1]), json, bytes };
  if (retained === 1) record.retained = true;
  if (will) record.will = { json: will[0], bytes: will[1] };
  return record;
}

/** One entry of the log stream, `[id, [field, value, …]]`, as a change. */
export function decodeChange(entry: [string, string[]]): StorageChange {
  const [id, fields] = entry;
  let type: StorageChange['type'] = 'added';
  let record: StoredRecord | undefined;
  let previous: StoredRecord | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]!;
    if (fields[i] === 't') type = value as StorageChange['type'];
    else if (fields[i] === 'r') record = decodeRecord(value);
    else if (fields[i] === 'p') previous = decodeRecord(value);
  }
  if (!record) throw new Error(`the registry change log entry ${id} has no record`);
  const change: StorageChange = { revision: revisionOf(id), type, record };
  if (previous) change.previous = previous;
  return change;
}

/** The revision of a log entry id (`<revision>-0`). */
export function revisionOf(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** A limit as the scripts take it: -1 for none. */
export function limitArg(limit: number): string {
  return Number.isFinite(limit) ? String(Math.max(0, Math.floor(limit))) : '-1';
}

/** Code-unit order, as the contract orders names. */
export function compareUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
