// Package gitops runs tierwall's GitOps integrations the way the GitOps tools
// run them, so that tests can check them against AppIsolations: the Argo CD
// health check in config/argocd.
package gitops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tierwall/tierwall/test/fixtures"
)

// HealthConfigMapKey is the argocd-cm key under which Argo CD looks for the
// health check of tierwall.dev/AppIsolation.
const HealthConfigMapKey = "resource.customizations.health.tierwall.dev_AppIsolation"

// Argo CD's health statuses that tierwall's script may return.
const (
	Healthy     = "Healthy"
	Progressing = "Progressing"
	Degraded    = "Degraded"
	// Unknown is what Argo CD reports when a script returns a status it does
	// not know.
	Unknown = "Unknown"
)

// HealthScriptPath is the path of the Argo CD health check.
func HealthScriptPath() string {
	return filepath.Join(fixtures.RepoRoot(), "config", "argocd", "health.lua")
}

// HealthConfigMapPath is the path of the argocd-cm snippet that installs the
// health check.
func HealthConfigMapPath() string {
	return filepath.Join(fixtures.RepoRoot(), "config", "argocd", "argocd-cm.yaml")
}

// HealthScript reads the Argo CD health check.
func HealthScript() (string, error) {
	data, err := os.ReadFile(HealthScriptPath())
	return string(data), err
}

// Health is the health Argo CD shows for a resource.
type Health struct {
	Status  string
	Message string
}

// ArgoCDHealth runs a health script over obj as Argo CD does (util/lua in
// argoproj/argo-cd): a gopher-lua state with only the package, base and table
// libraries open (no string library: Argo CD opens the standard libraries
// only for its built-in scripts or with useOpenLibs), a 1s timeout, obj
// converted from its unstructured form into the global table `obj`, and the
// table the script returns read as {status, message}. Like Argo CD, it
// reports Unknown for a status Argo CD does not know. The only difference:
// Argo CD also opens a restricted os library, which tierwall's script does
// not use, so a script that did would fail here.
func ArgoCDHealth(script string, obj map[string]any) (Health, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true},
			lua.LString(lib.name)); err != nil {
			return Health{}, fmt.Errorf("failed to open Lua library %q: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return Health{}, fmt.Errorf("the health script failed: %w", err)
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return Health{}, fmt.Errorf("the health script returned a %s, not a table", l.Get(-1).Type())
	}
	h := Health{Status: luaString(table.RawGetString("status")), Message: luaString(table.RawGetString("message"))}
	switch h.Status {
	case Healthy, Progressing, Degraded, Unknown, "Suspended", "Missing":
		return h, nil
	default:
		return Health{Status: Unknown, Message: "Lua returned an invalid health status"}, nil
	}
}

func luaString(v lua.LValue) string {
	if s, ok := v.(lua.LString); ok {
		return string(s)
	}
	return ""
}

// toLua converts an unstructured value into Lua values as Argo CD's
// decodeValue does: numbers of every Go type become Lua numbers, slices
// arrays, maps tables, and anything else nil.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		array := l.CreateTable(len(v), 0)
		for _, item := range v {
			array.Append(toLua(l, item))
		}
		return array
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(l, item))
		}
		return table
	default:
		return lua.LNil
	}
}
