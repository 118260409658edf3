// Lets Node 20 run this repository's TypeScript files directly:
//   node --import ./examples/register-ts.mjs examples/app.ts
// It uses ts-node (the fork tap depends on) in transpile-only mode:
// types are checked by `npm run typecheck`, not at startup.
process.env.TS_NODE_TRANSPILE_ONLY ??= 'true'
await import('@isaacs/ts-node-temp-fork-for-pr-2009/import')
