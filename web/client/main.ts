/**
 * Veche's built-in web client: Hydrogen (npm package hydrogen-view-sdk) mounted the way Hydrogen's
 * own web build mounts it — Platform → navigation and URL router → RootViewModel → RootView. The
 * root view model brings the login form, the session picker, the room list, rooms, the composer
 * (attachments, /invite, /join) and end-to-end encryption (olm in WebAssembly).
 *
 * Built by scripts/build-web.mjs into dist/web/; the server answers config.json from its
 * public_baseurl, so the login form points at this homeserver.
 */
import { Platform, createNavigation, createRouter, RootViewModel, FeatureSet } from 'hydrogen-view-sdk';
import 'hydrogen-view-sdk/theme-element-light.css';
import './veche.css';

/** Content-hashed asset URLs (relative to the page), filled in by the build. */
declare const VECHE_ASSET_PATHS: {
  downloadSandbox: string;
  worker: string;
  serviceWorker: string;
  olm: { wasm: string; legacyBundle: string; wasmBundle: string };
};

async function main(): Promise<void> {
  const container = document.body;
  const platform = new Platform({
    container,
    assetPaths: VECHE_ASSET_PATHS,
    configURL: 'config.json',
    options: { development: false },
  });
  try {
    await platform.init();
    const navigation = createNavigation();
    platform.setNavigation(navigation);
    const urlRouter = createRouter({ navigation, history: platform.history });
    urlRouter.attach();
    const features = await FeatureSet.load(platform.settingsStorage);
    // Start fetching olm while the session loads: the first sync of an encrypted room needs it.
    void platform.loadOlm();
    const vm = new RootViewModel({ platform, urlRouter, navigation, features });
    await vm.load();
    platform.createAndMountRootView(vm);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    container.textContent = `The web client could not start: ${message}`;
    throw err;
  }
}

void main();
