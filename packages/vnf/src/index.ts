// The umbrella: every public class of VNF under one import, as the seed uses it (`new Vnf.InBrowserHub()`).
export * from '@vnf/core';
export * from '@vnf/in-browser-hub';
export * from '@vnf/registry';
export * from '@vnf/websocket-hub';
export * from '@vnf/unreliable-hub';
export * from '@vnf/reliable-hub';
export * from '@vnf/marshaller-hub';
export * from '@vnf/rtc-hub';
