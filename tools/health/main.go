// Command health computes the health that GitOps tools see for a Kubernetes
// object: its kstatus status (the library Flux and `kubectl wait` build on)
// and, with -argocd, the status an Argo CD Lua health check returns for it
// when run in gopher-lua, the interpreter Argo CD embeds.
//
// It reads one object as JSON on stdin and prints one JSON line:
//
//	{"kstatus":"Current","kstatusMessage":"...","argocd":"Healthy","argocdMessage":"..."}
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Kstatus        string `json:"kstatus"`
	KstatusMessage string `json:"kstatusMessage"`
	Argocd         string `json:"argocd,omitempty"`
	ArgocdMessage  string `json:"argocdMessage,omitempty"`
}

func main() {
	script := flag.String("argocd", "", "Argo CD health check (Lua) to run against the object")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *script); err != nil {
		fmt.Fprintln(os.Stderr, "health:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, script string) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("reading the object: %w", err)
	}
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(data); err != nil {
		return fmt.Errorf("reading the object: %w", err)
	}
	object := u.Object
	computed, err := status.Compute(&u)
	if err != nil {
		return fmt.Errorf("kstatus: %w", err)
	}
	res := result{Kstatus: computed.Status.String(), KstatusMessage: computed.Message}
	if script != "" {
		res.Argocd, res.ArgocdMessage, err = argocd(script, object)
		if err != nil {
			return err
		}
	}
	return json.NewEncoder(out).Encode(res)
}

// argocd runs a health check the way Argo CD does: the object is the global
// `obj`, and the script returns a table with `status` and `message`.
func argocd(path string, object map[string]interface{}) (string, string, error) {
	source, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, object))
	if err := L.DoString(string(source)); err != nil {
		return "", "", fmt.Errorf("running %s: %w", path, err)
	}
	returned, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("%s returned %s, not a table", path, L.Get(-1).Type())
	}
	return lua.LVAsString(returned.RawGetString("status")), lua.LVAsString(returned.RawGetString("message")), nil
}

func toLua(L *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case map[string]interface{}:
		table := L.NewTable()
		for key, item := range v {
			table.RawSetString(key, toLua(L, item))
		}
		return table
	case []interface{}:
		table := L.NewTable()
		for _, item := range v {
			table.Append(toLua(L, item))
		}
		return table
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	default:
		return lua.LNil
	}
}
