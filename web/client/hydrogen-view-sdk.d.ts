// hydrogen-view-sdk ships declarations (types/lib.d.ts) that its package.json does not point at;
// the web client uses only these entry points.
declare module 'hydrogen-view-sdk' {
  export const Platform: any;
  export const RootViewModel: any;
  export const FeatureSet: { load(settingsStorage: unknown): Promise<unknown> };
  export function createNavigation(): any;
  export function createRouter(options: { navigation: unknown; history: unknown }): any;
}
declare module '*.css';
