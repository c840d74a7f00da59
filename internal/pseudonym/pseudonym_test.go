package pseudonym

import (
	"strings"
	"testing"
)

func TestPerson(t *testing.T) {
	k := New([]byte("0123456789abcdef0123456789abcdef"))
	a, b := k.Person("871008401427"), k.Person("760212350620")
	if a != k.Person("871008401427") {
		t.Fatal("the same IIN got two pseudonyms")
	}
	if a == b || !strings.HasPrefix(a, Prefix) || len(a) != len(Prefix)+16 {
		t.Fatalf("pseudonyms %q, %q", a, b)
	}
	if strings.Contains(a, "871008") {
		t.Fatalf("the pseudonym %q shows the IIN", a)
	}
	if other := New([]byte("another secret, another server!")); other.Person("871008401427") == a {
		t.Fatal("two keys made the same pseudonym")
	}
	if Random().Person("871008401427") == a {
		t.Fatal("a random key made the fixed key's pseudonym")
	}
}
