import type { Hub } from '@vnf/core';

export interface HubConformanceSetup {
  /** Creates a fresh hub for one test. Endpoints opened on it must be able to connect to each other. The suite closes it. */
  createHub(): Hub | Promise<Hub>;
  /** Runs after each test, after the suite closed the hubs it created (stop servers, close signaling hubs). */
  afterEach?(): Promise<void> | void;
  /** `wire`: strings and binary only (the default). `json`: any JSON value too (MarshallerHub). */
  payloads?: 'wire' | 'json';
  /** How long to wait for an expected event, ms. Default 5000. */
  timeoutMs?: number;
  /** Messages sent in the ordering test. Default 200. */
  messageCount?: number;
}

/** Registers jest tests that check every rule of DESIGN.md §1 against the hubs `setup` creates. */
export function hubConformance(name: string, setup: HubConformanceSetup): void {
  void name;
  void setup;
  throw new Error('hubConformance: being written');
}
