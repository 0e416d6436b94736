package server

import (
	"encoding/json"
	"testing"
)

// TestCreate_deployRulesAtCreate: a field the deploy would refuse is
// refused at create and at update, naming the field, and nothing is
// stored.
func TestCreate_deployRulesAtCreate(t *testing.T) {
	f := newFixture(t)
	app := func(edit func(map[string]any)) string {
		a := map[string]any{
			"name": "shop", "image": "shop:1", "port": 8000, "health_path": "/healthz",
			"database": map[string]any{"kind": "postgres", "image": "postgres:16"},
		}
		edit(a)
		b, _ := json.Marshal(a)
		return string(b)
	}
	db := func(k string, v any) func(map[string]any) {
		return func(a map[string]any) { a["database"].(map[string]any)[k] = v }
	}
	set := func(k string, v any) func(map[string]any) { return func(a map[string]any) { a[k] = v } }
	cases := []struct {
		name  string
		edit  func(map[string]any)
		field string
	}{
		{"url scheme javascript:", db("url_scheme", "javascript:"), "database.url_scheme"},
		{"url scheme with a path", db("url_scheme", "postgres://evil/"), "database.url_scheme"},
		{"newline in the database password", db("password", "pw\nx"), "database.password"},
		{"newline in the health path", set("health_path", "/healthz\nHost: evil"), "health_path"},
		{"space in the health path", set("health_path", "/health z"), "health_path"},
		{"image as an option", set("image", "--privileged"), "image"},
		{"climbing image path", set("image", "../../x:1"), "image"},
		{"database image as an option", db("image", "-v"), "database.image"},
		{"climbing push target", set("source", map[string]any{"push": "127.0.0.1:5000/../../x"}), "source.push"},
	}
	// f.expect fails the test itself: no subtests.
	for _, c := range cases {
		t.Log(c.name)
		f.expect(f.as("POST", "/api/v1/apps", app(c.edit)), 422, `"field":"`+c.field+`"`)
	}
	f.expect(f.as("GET", "/api/v1/apps/shop", ""), 404)

	f.expect(f.as("POST", "/api/v1/apps", app(func(map[string]any) {})), 201)
	for _, c := range cases {
		t.Log("update:", c.name)
		f.expect(f.as("PUT", "/api/v1/apps/shop", app(func(a map[string]any) { a["version"] = 1; c.edit(a) })), 422, `"field":"`+c.field+`"`)
	}
}

// TestRegistries_hostsAndTargetsParsed: registry hosts and push targets
// are parsed as the engine parses references.
func TestRegistries_hostsAndTargetsParsed(t *testing.T) {
	f := newFixture(t)
	for _, host := range []string{"..", "localhost:99999", "reg..example.com", "-reg.example.com", "reg.example.com:0"} {
		f.expect(f.as("POST", "/api/v1/registries", `{"host":`+quote(host)+`,"username":"ann","password":"pw-123"}`), 422, `"field":"host"`)
	}
	f.expect(f.as("GET", "/api/v1/registries", ""), 200, `[]`)
	for _, target := range []string{"../../x", "127.0.0.1:5000/../x:1", "localhost:99999/app:1", "--privileged"} {
		f.expect(f.as("POST", "/api/v1/images/push", `{"image":"app:1","target":`+quote(target)+`}`), 422, `"field":"target"`)
	}
}
