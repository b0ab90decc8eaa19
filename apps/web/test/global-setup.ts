import { buildPage } from './browser'

// Builds the page once, before any test file runs (they run in parallel and would race on dist/page).
export default async function setup(): Promise<void> {
  await buildPage()
}
