// Package persistence is where Senim keeps what must survive a crash. Its
// one store today is eventlog: the hash-chained event log that every act,
// and everything built from acts, is replayed from.
package persistence
