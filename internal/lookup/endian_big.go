//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package lookup

// bigEndian selects byte order dependent code paths at compile time.
const bigEndian = true
