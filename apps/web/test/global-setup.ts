import { buildPage } from './browser'

// Builds the page once, before any test file runs (they run in parallel and would race on dist/page).
// Under turbo, @unet/web#test depends on the package's own build (root turbo.json): `vite build` empties
// dist/page first, so a build running beside the tests (lint depends on build) would pull the page, its
// worker included, from under the browser test. Then the page here is already fresh and nothing is rebuilt.
export default async function setup(): Promise<void> {
  await buildPage()
}
