// Package loadgen is Senim's own load generator, behind `senim load`. It
// simulates notaries, principals and attorneys doing whole notarial acts
// over the documented protocol only (through package client), and measures
// each step as the other party sees it: from the moment the step was due to
// the moment the resulting event reached the other side. Open-loop runs
// schedule acts by the clock, so a slow server cannot slow the tool down and
// hide its own slowness (coordinated omission).
//
// The people it simulates must exist where the server looks: their keys come
// from the server's development CA (DATA/devca), their names go into the
// individuals-registry stand-in and the notaries' accounts into the accounts
// file, all under the server's data directory. The server re-reads both files
// on use.
package loadgen
