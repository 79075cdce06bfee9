// Copies the ES modules into static/dist/ (served as is: no bundler is needed for plain modules).
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, "src");
const target = join(here, "..", "static", "dist");

rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
const files = readdirSync(source).filter((name) => name.endsWith(".js"));
for (const name of files) cpSync(join(source, name), join(target, name));

// Browser builds of npm dependencies, copied as they ship: [file in node_modules, name in static/dist/vendor].
// The source map goes along: the minified file names it, and collectstatic's hashed-name pass (start.sh,
// the Docker image) refuses a reference to a missing file.
const VENDOR = [
  ["tus-js-client/dist/tus.min.js", "tus.min.js"],
  ["tus-js-client/dist/tus.min.js.map", "tus.min.js.map"],
];
for (const [from, to] of VENDOR) {
  mkdirSync(join(target, "vendor"), { recursive: true });
  cpSync(join(here, "node_modules", from), join(target, "vendor", to));
}
console.log(`copied ${files.length} module(s) and ${VENDOR.length} vendor file(s) to static/dist/`);
