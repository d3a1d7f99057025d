package processors

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// script: {lang: javascript, source | file | files, params, tag, timeout,
// max_cached_sessions, tag_on_exception: _js_exception}. The script runs
// in goja, a pure Go ECMAScript 5.1 engine, the dialect (and the engine)
// Beats' script processor uses. It must define process(event); register
// (params) receives params at load time and test() runs at load time, an
// exception in either being a configuration error.
//
// The event API is Beats': event.Get(key) (no key: every field),
// Put(key, value) (returns the old value), Rename(from, to), Delete(key),
// Cancel(), Tag(tag), AppendTo(key, value); `new Event({...})` builds an
// event (for test()).
//
// An exception in process tags the event with tag_on_exception and is a
// runtime error (the event is kept, with error.message). A script running
// longer than timeout is interrupted the same way. Beats runs without a
// limit when timeout is unset; here the default is 1s, because the script
// runs on the capture path and a loop must not stop capture.
// max_cached_sessions is accepted for compatibility: a chain runs on one
// goroutine, so one session serves it.

func init() { register("script", newScript) }

const defaultScriptTimeout = time.Second

type scriptProc struct {
	vm             *goja.Runtime
	process        goja.Callable
	timeout        time.Duration
	tagOnException string
	proto          *goja.Object
}

func newScript(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "lang", "source", "file", "files", "params", "tag", "id", "timeout", "max_cached_sessions", "tag_on_exception"); err != nil {
		return nil, err
	}
	lang, err := stringOpt(cfg, "lang", "")
	if err != nil {
		return nil, err
	}
	switch lang {
	case "javascript", "js":
	case "":
		return nil, fmt.Errorf("lang: required (javascript)")
	default:
		return nil, fmt.Errorf("lang: %q is not supported (javascript)", lang)
	}
	for _, k := range []string{"tag", "id"} {
		if _, err := stringOpt(cfg, k, ""); err != nil {
			return nil, err
		}
	}
	src, name, err := scriptSource(cfg)
	if err != nil {
		return nil, err
	}
	timeout, err := durationOpt(cfg, "timeout", defaultScriptTimeout)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("timeout: must be positive, got %s", timeout)
	}
	if n, err := intOpt(cfg, "max_cached_sessions", 4); err != nil {
		return nil, err
	} else if n < 0 {
		return nil, fmt.Errorf("max_cached_sessions: must not be negative")
	}
	tagOnException, err := stringOpt(cfg, "tag_on_exception", "_js_exception")
	if err != nil {
		return nil, err
	}
	var params map[string]any
	if p, ok := cfg["params"]; ok && p != nil {
		if params, ok = p.(map[string]any); !ok {
			return nil, fmt.Errorf("params: must be a map, got %s", describe(p))
		}
	}

	s := &scriptProc{vm: goja.New(), timeout: timeout, tagOnException: tagOnException}
	s.installEventAPI()
	s.installModules()
	prog, err := goja.Compile(name, src, false)
	if err != nil {
		return nil, fmt.Errorf("source: %v", err)
	}
	if err := s.guard(func() error { _, err := s.vm.RunProgram(prog); return err }); err != nil {
		return nil, fmt.Errorf("source: %v", err)
	}
	fn, ok := goja.AssertFunction(s.vm.Get("process"))
	if !ok {
		return nil, fmt.Errorf("source: the script defines no process(event) function")
	}
	s.process = fn
	if reg, ok := goja.AssertFunction(s.vm.Get("register")); ok {
		err := s.guard(func() error { _, err := reg(goja.Undefined(), s.vm.ToValue(toJS(params))); return err })
		if err != nil {
			return nil, fmt.Errorf("params: register failed: %v", err)
		}
	} else if len(params) > 0 {
		return nil, fmt.Errorf("params: the script defines no register(params) function to receive them")
	}
	if test, ok := goja.AssertFunction(s.vm.Get("test")); ok {
		if err := s.guard(func() error { _, err := test(goja.Undefined()); return err }); err != nil {
			return nil, fmt.Errorf("source: test() failed: %v", err)
		}
	}
	return s.run, nil
}

// scriptSource returns the code from source, file or files (globs, joined
// in name order), exactly one of which is required.
func scriptSource(cfg map[string]any) (src, name string, err error) {
	source, err := stringOpt(cfg, "source", "")
	if err != nil {
		return "", "", err
	}
	file, err := stringOpt(cfg, "file", "")
	if err != nil {
		return "", "", err
	}
	var files []string
	if v, ok := cfg["files"]; ok && v != nil {
		if files, err = stringList(v); err != nil {
			return "", "", fmt.Errorf("files: %v", err)
		}
	}
	if file != "" {
		files = append([]string{file}, files...)
	}
	switch {
	case source != "" && len(files) > 0:
		return "", "", fmt.Errorf("source and file: give one of them, not both")
	case source != "":
		return source, "inline.js", nil
	case len(files) == 0:
		return "", "", fmt.Errorf("source or file: one is required")
	}
	var paths []string
	for _, f := range files {
		m, err := filepath.Glob(f)
		if err != nil || len(m) == 0 {
			return "", "", fmt.Errorf("file: %q matches no file", f)
		}
		sort.Strings(m)
		paths = append(paths, m...)
	}
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", "", fmt.Errorf("file: %v", err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String(), paths[0], nil
}

var errScriptTimeout = errors.New("script timed out")

// guard runs fn with the timeout armed: a script still running then is
// interrupted, which unwinds it with an InterruptedError.
func (s *scriptProc) guard(fn func() error) error {
	t := time.AfterFunc(s.timeout, func() { s.vm.Interrupt(errScriptTimeout) })
	err := fn()
	t.Stop()
	s.vm.ClearInterrupt()
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		return fmt.Errorf("javascript processor timed out after %s", s.timeout)
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return errors.New(ex.Value().String())
	}
	return err
}

// jsEvent is the Go side of a script's event object.
type jsEvent struct {
	doc       map[string]any
	cancelled bool
}

func (s *scriptProc) run(doc map[string]any) (bool, error) {
	ev := &jsEvent{doc: doc}
	obj := s.eventObject(ev)
	err := s.guard(func() error { _, err := s.process(goja.Undefined(), obj); return err })
	if err != nil {
		if s.tagOnException != "" {
			addTag(doc, s.tagOnException)
		}
		return false, fmt.Errorf("failed in process function: %v", err)
	}
	return ev.cancelled, nil
}

// installEventAPI defines the methods shared by every event object (on a
// prototype, so an event costs one small object) and the Event constructor.
func (s *scriptProc) installEventAPI() {
	vm := s.vm
	s.proto = vm.NewObject()
	self := func(call goja.FunctionCall) *jsEvent {
		if o, ok := call.This.(*goja.Object); ok {
			if ev, ok := o.Get("__event").Export().(*jsEvent); ok {
				return ev
			}
		}
		panic(vm.NewTypeError("not an event"))
	}
	key := func(call goja.FunctionCall, i int) string {
		v := call.Argument(i)
		if goja.IsUndefined(v) || goja.IsNull(v) {
			panic(vm.NewTypeError("a field name is required"))
		}
		return v.String()
	}
	set := func(name string, fn func(call goja.FunctionCall) goja.Value) {
		_ = s.proto.Set(name, fn)
	}
	set("Get", func(call goja.FunctionCall) goja.Value {
		ev := self(call)
		if goja.IsUndefined(call.Argument(0)) {
			return vm.ToValue(toJS(ev.doc))
		}
		v, ok := getPath(ev.doc, key(call, 0))
		if !ok {
			return goja.Null()
		}
		return vm.ToValue(toJS(v))
	})
	set("Put", func(call goja.FunctionCall) goja.Value {
		ev := self(call)
		k := key(call, 0)
		old, had := getPath(ev.doc, k)
		if err := putPath(ev.doc, k, fromJS(call.Argument(1).Export())); err != nil {
			panic(vm.NewGoError(err))
		}
		if !had {
			return goja.Null()
		}
		return vm.ToValue(toJS(old))
	})
	set("Delete", func(call goja.FunctionCall) goja.Value {
		return vm.ToValue(deletePath(self(call).doc, key(call, 0)))
	})
	set("Rename", func(call goja.FunctionCall) goja.Value {
		ev := self(call)
		from, to := key(call, 0), key(call, 1)
		v, ok := getPath(ev.doc, from)
		if !ok {
			return vm.ToValue(false)
		}
		if _, exists := getPath(ev.doc, to); exists {
			return vm.ToValue(false)
		}
		deletePath(ev.doc, from)
		if err := putPath(ev.doc, to, v); err != nil {
			_ = putPath(ev.doc, from, v)
			return vm.ToValue(false)
		}
		return vm.ToValue(true)
	})
	set("Cancel", func(call goja.FunctionCall) goja.Value {
		self(call).cancelled = true
		return goja.Undefined()
	})
	set("Tag", func(call goja.FunctionCall) goja.Value {
		if err := addTag(self(call).doc, key(call, 0)); err != nil {
			panic(vm.NewGoError(err))
		}
		return goja.Undefined()
	})
	set("AppendTo", func(call goja.FunctionCall) goja.Value {
		ev := self(call)
		k := key(call, 0)
		val := call.Argument(1).String()
		cur, _ := getPath(ev.doc, k)
		var list []any
		switch x := cur.(type) {
		case nil:
		case string:
			list = []any{x}
		case []any:
			for _, e := range x {
				if _, ok := e.(string); !ok {
					panic(vm.NewTypeError("AppendTo: " + k + " is not a list of strings"))
				}
			}
			list = x
		default:
			panic(vm.NewTypeError("AppendTo: " + k + " is not a string or a list of strings"))
		}
		for _, e := range list {
			if e == val {
				return goja.Undefined()
			}
		}
		if err := putPath(ev.doc, k, append(list, val)); err != nil {
			panic(vm.NewGoError(err))
		}
		return goja.Undefined()
	})
	_ = vm.Set("Event", func(call goja.ConstructorCall) *goja.Object {
		doc := map[string]any{}
		if m, ok := fromJS(call.Argument(0).Export()).(map[string]any); ok {
			doc = m
		}
		return s.eventObject(&jsEvent{doc: doc})
	})
}

func (s *scriptProc) eventObject(ev *jsEvent) *goja.Object {
	o := s.vm.NewObject()
	_ = o.SetPrototype(s.proto)
	_ = o.DefineDataProperty("__event", s.vm.ToValue(ev), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	return o
}

// addTag appends tag to the event's tags once.
func addTag(doc map[string]any, tag string) error {
	list, ok := tagList(doc["tags"])
	if !ok {
		return fmt.Errorf("tags is not a string or a list of strings")
	}
	if list, added := appendNew(list, tag); added {
		doc["tags"] = list
	}
	return nil
}

// toJS copies document values into what the script sees: numbers become
// JavaScript numbers (integers stay integers).
func toJS(v any) any { return copyTree(v, leafToJS) }

func leafToJS(v any) any {
	if x, ok := v.(json.Number); ok {
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// fromJS normalises exported script values for the document: NaN and
// infinities (which JSON cannot hold) become null, typed Go slices and maps
// plain ones.
func fromJS(v any) any { return copyTree(v, leafFromJS) }

func leafFromJS(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case []string:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = e
		}
		return s
	case *jsEvent:
		return x.doc
	}
	return v
}

// installModules provides Beats' require('console') (logging at debug),
// require('path') (POSIX paths) and require('processor'), whose
// constructors build this package's processors (new
// processor.Dissect({...}).Run(event)); other modules throw.
func (s *scriptProc) installModules() {
	vm := s.vm
	console := vm.NewObject()
	for _, lvl := range []string{"log", "debug", "info", "warn", "error"} {
		_ = console.Set(lvl, func(call goja.FunctionCall) goja.Value {
			parts := make([]string, len(call.Arguments))
			for i, a := range call.Arguments {
				parts[i] = a.String()
			}
			slog.Debug("script console."+lvl, "message", strings.Join(parts, " "))
			return goja.Undefined()
		})
	}
	procMod := vm.NewObject()
	for name := range builders {
		ctor := jsConstructorName(name)
		_ = procMod.Set(ctor, func(call goja.ConstructorCall) *goja.Object {
			cfg, _ := fromJS(call.Argument(0).Export()).(map[string]any)
			if cfg == nil {
				cfg = map[string]any{}
			}
			run, err := builders[name](cfg)
			if err != nil {
				panic(vm.NewTypeError(fmt.Sprintf("processor.%s: %v", ctor, err)))
			}
			o := vm.NewObject()
			_ = o.Set("Run", func(c goja.FunctionCall) goja.Value {
				obj, ok := c.Argument(0).(*goja.Object)
				if !ok {
					panic(vm.NewTypeError("Run needs an event"))
				}
				ev, ok := obj.Get("__event").Export().(*jsEvent)
				if !ok {
					panic(vm.NewTypeError("Run needs an event"))
				}
				drop, err := run(ev.doc)
				if err != nil {
					panic(vm.NewGoError(err))
				}
				if drop {
					ev.cancelled = true
				}
				return obj
			})
			return o
		})
	}
	pathMod := vm.NewObject()
	str1 := func(fn func(string) string) func(goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value { return vm.ToValue(fn(call.Argument(0).String())) }
	}
	_ = pathMod.Set("basename", func(call goja.FunctionCall) goja.Value {
		b := path.Base(call.Argument(0).String())
		if ext := call.Argument(1); !goja.IsUndefined(ext) {
			b = strings.TrimSuffix(b, ext.String())
		}
		return vm.ToValue(b)
	})
	_ = pathMod.Set("dirname", str1(path.Dir))
	_ = pathMod.Set("extname", str1(path.Ext))
	_ = pathMod.Set("normalize", str1(path.Clean))
	_ = pathMod.Set("isAbsolute", func(call goja.FunctionCall) goja.Value { return vm.ToValue(path.IsAbs(call.Argument(0).String())) })
	_ = pathMod.Set("join", func(call goja.FunctionCall) goja.Value {
		parts := make([]string, len(call.Arguments))
		for i, a := range call.Arguments {
			parts[i] = a.String()
		}
		return vm.ToValue(path.Join(parts...))
	})
	_ = pathMod.Set("sep", "/")
	_ = vm.Set("require", func(call goja.FunctionCall) goja.Value {
		switch call.Argument(0).String() {
		case "console":
			return console
		case "processor":
			return procMod
		case "path":
			return pathMod
		}
		panic(vm.NewGoError(fmt.Errorf("module %q is not available (console, path, processor)", call.Argument(0).String())))
	})
	_ = vm.Set("console", console)
}

// jsConstructorName is Beats' JavaScript name of a processor: add_fields
// is AddFields, community_id CommunityID, decode_json_fields DecodeJSONFields.
func jsConstructorName(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		switch part {
		case "id", "json", "xml", "dns", "csv":
			b.WriteString(strings.ToUpper(part))
		default:
			if part != "" {
				b.WriteString(strings.ToUpper(part[:1]) + part[1:])
			}
		}
	}
	return b.String()
}
