// Missing test peers in the Node integration tests (mirrors missing_peer in
// duplex_fixture.py): outside CI a test whose client library or program is
// missing is skipped (exit 77, meson's SKIP); under CI=true it fails (exit 1)
// with a message naming the peer, so a suite cannot silently vanish from CI.
export const IN_CI = (process.env.CI ?? "").toLowerCase() === "true";

export function missingPeer(peer, hint) {
  const msg = `test peer missing: ${peer} (${hint})`;
  if (IN_CI) {
    console.error(`FAIL: ${msg}; CI=true requires every test peer`);
    process.exit(1);
  }
  console.log(`SKIP: ${msg}`);
  process.exit(77);
}

// require(name) through `require` (a createRequire function), or missingPeer.
export function requirePeer(require, name, hint) {
  try {
    return require(name);
  } catch (e) {
    if (e?.code !== "MODULE_NOT_FOUND") throw e;
    return missingPeer(`npm package ${name}`, hint);
  }
}
