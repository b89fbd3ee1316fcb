// Package bench holds frozen's benchmarks against other libraries, in a
// module of its own so that they stay out of the library's dependencies.
package bench
