package playbooks

import "testing"

func TestVersionRange(t *testing.T) {
	for _, tc := range []struct {
		rng     string
		in, out []string
	}{
		{rng: ">= 1.2.0", in: []string{"1.2.0", "1.10.0", "2.0.0"}, out: []string{"1.1.9", "1.2.0-rc.1"}},
		{rng: ">=1.2", in: []string{"1.2.0", "1.2"}, out: []string{"1.1"}},
		{rng: "~1.2", in: []string{"1.2.0", "1.2.9"}, out: []string{"1.3.0", "1.1.9"}},
		{rng: "~ 1.0.0", in: []string{"1.0.0", "1.0.7"}, out: []string{"1.1.0", "0.9.9"}},
		{rng: "~1.2.3", in: []string{"1.2.3", "1.2.4"}, out: []string{"1.2.2", "1.3.0"}},
		{rng: "~1", in: []string{"1.0.0", "1.9.9"}, out: []string{"2.0.0"}},
		{rng: "~> 1.2", in: []string{"1.2.5"}, out: []string{"1.3.0"}},
		{rng: "^2", in: []string{"2.0.0", "2.9.1"}, out: []string{"3.0.0", "1.9.9"}},
		{rng: "^1.2.3", in: []string{"1.2.3", "1.9.0"}, out: []string{"1.2.2", "2.0.0"}},
		{rng: "^0.2.3", in: []string{"0.2.3", "0.2.9"}, out: []string{"0.3.0", "0.2.2"}},
		{rng: "^0.0.3", in: []string{"0.0.3"}, out: []string{"0.0.4"}},
		{rng: "1.x", in: []string{"1.0.0", "1.99.3"}, out: []string{"2.0.0", "0.9.0"}},
		{rng: "1.2.x", in: []string{"1.2.0", "1.2.7"}, out: []string{"1.3.0"}},
		{rng: "1.2", in: []string{"1.2.0", "1.2.7"}, out: []string{"1.3.0"}},
		{rng: "*", in: []string{"0.0.1", "9.9.9"}},
		{rng: "", in: []string{"0.0.1"}},
		{rng: "1.2.3", in: []string{"1.2.3", "v1.2.3", "1.2.3+build.5"}, out: []string{"1.2.4"}},
		{rng: "=1.2.3", in: []string{"1.2.3"}, out: []string{"1.2.4"}},
		{rng: ">= 1 < 2", in: []string{"1.0.0", "1.5.0"}, out: []string{"2.0.0", "0.1.0"}},
		{rng: ">=1.0.0, <1.5.0", in: []string{"1.4.9"}, out: []string{"1.5.0"}},
		{rng: ">1.2", in: []string{"1.3.0"}, out: []string{"1.2.9"}},
		{rng: "<=1.2", in: []string{"1.2.9"}, out: []string{"1.3.0"}},
		{rng: ">1.2.3", in: []string{"1.2.4"}, out: []string{"1.2.3"}},
		{rng: "<1.2.3", in: []string{"1.2.2", "1.2.3-alpha"}, out: []string{"1.2.3"}},
		{rng: "<=1.2.3", in: []string{"1.2.3"}, out: []string{"1.2.4"}},
		{rng: "1.2 - 2.0", in: []string{"1.2.0", "2.0.9"}, out: []string{"2.1.0", "1.1.0"}},
		{rng: "1.2.3 - 2.3.4", in: []string{"2.3.4"}, out: []string{"2.3.5"}},
		{rng: "1.x || >=3.0.0", in: []string{"1.5.0", "3.1.0"}, out: []string{"2.0.0"}},
		{rng: ">=1.0.0-alpha", in: []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0"}, out: []string{"0.9.0"}},
		{rng: ">1.0.0-alpha.1", in: []string{"1.0.0-alpha.beta", "1.0.0-alpha.2"}, out: []string{"1.0.0-alpha"}},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			r, err := ParseVersionRange(tc.rng)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			for _, s := range tc.in {
				v, err := ParseSemVersion(s)
				if err != nil {
					t.Fatalf("version %s: %v", s, err)
				}
				if !r.Allows(v) {
					t.Errorf("%s should satisfy %q", s, tc.rng)
				}
			}
			for _, s := range tc.out {
				v, err := ParseSemVersion(s)
				if err != nil {
					t.Fatalf("version %s: %v", s, err)
				}
				if r.Allows(v) {
					t.Errorf("%s should not satisfy %q", s, tc.rng)
				}
			}
		})
	}
}

func TestVersionRangeInvalid(t *testing.T) {
	for _, rng := range []string{">=", "1.2.3.4", "abc", "~x.1", ">= 1.a", "!= 1.0.0", "1.2-rc1", "1.2.3-"} {
		t.Run(rng, func(t *testing.T) {
			if _, err := ParseVersionRange(rng); err == nil {
				t.Errorf("range %q parsed, want an error", rng)
			}
		})
	}
}

func TestSemVersionInvalid(t *testing.T) {
	for _, s := range []string{"", "1.x", "one", "1.2.3.4", "1..2"} {
		if _, err := ParseSemVersion(s); err == nil {
			t.Errorf("version %q parsed, want an error", s)
		}
	}
}

func TestSemVersionStringAndCompare(t *testing.T) {
	v, err := ParseSemVersion("v1.2-rc.1")
	if err == nil {
		t.Fatalf("pre-release on a two-part version accepted: %v", v)
	}
	a, _ := ParseSemVersion("1.2")
	b, _ := ParseSemVersion("1.2.0-rc.1+build")
	if a.String() != "1.2.0" || b.String() != "1.2.0-rc.1" || a.Compare(b) != 1 || b.Compare(a) != -1 || a.Compare(a) != 0 {
		t.Errorf("a=%s b=%s compare=%d", a, b, a.Compare(b))
	}
	r, _ := ParseVersionRange("~ 1.0.0")
	if r.String() != "~ 1.0.0" {
		t.Errorf("range text %q", r.String())
	}
}
