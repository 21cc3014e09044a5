// Package input reads the objects the tierwall CLI works on (AppIsolations,
// Namespaces, Pods and NetworkPolicies; for reach also Nodes, the API
// server's EndpointSlices, and tierwall's own Address kind)
// from multi-document YAML or JSON, as kubectl writes them and as users keep
// them in Git.
//
// Reading is strict, like `kubectl apply --validate=strict`: an unknown or
// duplicate field, an unexpected kind or apiVersion, or a missing name is an
// error. Every error names the input and the line it is about (the line of
// the offending field when it can be found, else the first line of the
// document), so that editors can jump to it.
//
// Every AppIsolation read goes through admission as the API server would
// admit it (package admission, with the embedded CRD): a spec the API server
// rejects is an error here, with the API server's messages, each at the line
// of its field; an accepted one is read with the CRD's defaults applied.
package input

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	yamlv3 "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
	"github.com/tierwall/tierwall/config/crd"
	"github.com/tierwall/tierwall/internal/admission"
)

// The kinds the CLI reads.
const (
	KindAppIsolation  = tierwallv1alpha1.AppIsolationKind
	KindNamespace     = "Namespace"
	KindPod           = "Pod"
	KindNetworkPolicy = "NetworkPolicy"
	KindNode          = "Node"
	KindEndpointSlice = "EndpointSlice"
	// KindAddress is tierwall's own kind for an endpoint outside the pods;
	// see Address.
	KindAddress = "Address"
)

// AddressAPIVersion is the apiVersion of KindAddress: a kind of the CLI's
// input only, never applied to a cluster.
const AddressAPIVersion = "cli.tierwall.dev/v1alpha1"

// apiVersions is the one apiVersion accepted for each kind.
var apiVersions = map[string]string{
	KindAppIsolation:  tierwallv1alpha1.GroupVersion.String(),
	KindNamespace:     corev1.SchemeGroupVersion.String(),
	KindPod:           corev1.SchemeGroupVersion.String(),
	KindNetworkPolicy: networkingv1.SchemeGroupVersion.String(),
	KindNode:          corev1.SchemeGroupVersion.String(),
	KindEndpointSlice: discoveryv1.SchemeGroupVersion.String(),
	KindAddress:       AddressAPIVersion,
}

// clusterScoped are the kinds without a namespace.
var clusterScoped = []string{KindNamespace, KindNode, KindAddress}

// Address is an endpoint outside the cluster's pods for tierwall reach to
// show flows from and to: an external client or server.
//
//	apiVersion: cli.tierwall.dev/v1alpha1
//	kind: Address
//	metadata:
//	  name: partner            # optional: the name in the matrix (default: the address)
//	address: 203.0.113.7       # IPv4 or IPv6
//	ports:                     # optional: the ports of flows to the address
//	- port: 443
//	  protocol: TCP            # TCP (default), UDP or SCTP
type Address struct {
	metav1.TypeMeta `json:",inline"`
	// Metadata holds only the optional name.
	Metadata AddressMetadata `json:"metadata,omitzero"`
	// Address is the IPv4 or IPv6 address.
	Address string `json:"address"`
	// Ports are the ports of connections to the address.
	Ports []AddressPort `json:"ports,omitempty"`
}

// AddressMetadata is the metadata of an Address.
type AddressMetadata struct {
	// Name is shown instead of the address.
	Name string `json:"name,omitempty"`
}

// AddressPort is a port of an Address.
type AddressPort struct {
	// Port is from 1 to 65535.
	Port int32 `json:"port"`
	// Protocol is TCP (when empty), UDP or SCTP.
	Protocol corev1.Protocol `json:"protocol,omitempty"`
}

// Name is the Address's name, or the address when it has none.
func (a *Address) Name() string {
	if a.Metadata.Name != "" {
		return a.Metadata.Name
	}
	if ip, err := netip.ParseAddr(a.Address); err == nil {
		return ip.Unmap().String()
	}
	return a.Address
}

// DefaultNamespace is the namespace of namespaced objects that name none,
// when Options.Namespace is empty: the same as kubectl's.
const DefaultNamespace = "default"

// Options say what a Reader accepts.
type Options struct {
	// Kinds are the kinds to read, among KindAppIsolation, KindNamespace,
	// KindPod, KindNetworkPolicy, KindNode, KindEndpointSlice and
	// KindAddress. Any other kind is an error, in a List too.
	Kinds []string
	// SkipOtherKinds skips the objects of kinds not among Kinds instead of
	// failing on them, so that a directory of manifests (Deployments,
	// Services, Kustomizations beside the objects read) can be read whole.
	SkipOtherKinds bool
	// Namespace is set on namespaced objects that have none. Empty means
	// DefaultNamespace.
	Namespace string
	// EnforceNamespace makes a namespaced object in another namespace than
	// Namespace an error, like an explicit `kubectl --namespace`.
	EnforceNamespace bool
	// Explain, when set, is given each AppIsolation that admission rejects
	// (decoded as far as it goes), and may return more precise errors:
	// a CEL rule on a list names the list, not the entry at fault. Those
	// that admission did not report too are added, at their lines.
	Explain func(app *tierwallv1alpha1.AppIsolation) field.ErrorList
}

// Position is where an object or a problem is in the input.
type Position struct {
	// File is the name of the input, as given on the command line.
	File string
	// Line is 1-based.
	Line int
}

func (p Position) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// Error is a problem with the input at a position.
type Error struct {
	Pos Position
	Err error
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Objects are the objects read, by kind, in input order.
type Objects struct {
	AppIsolations   []tierwallv1alpha1.AppIsolation
	Namespaces      []corev1.Namespace
	Pods            []corev1.Pod
	NetworkPolicies []networkingv1.NetworkPolicy
	Nodes           []corev1.Node
	EndpointSlices  []discoveryv1.EndpointSlice
	// Addresses are the documents of KindAddress, checked: a valid IP
	// address and valid ports.
	Addresses []Address

	positions map[objectKey]origin
}

type objectKey struct{ kind, namespace, name string }

// origin is where an object was read: its document, and its path there
// ("" or "items[i]").
type origin struct {
	pos  Position
	doc  *document
	path string
}

// Position returns where the object of kind with namespace and name starts
// in the input; the zero Position if it was not read.
func (o *Objects) Position(kind, namespace, name string) Position {
	return o.positions[objectKey{kind, namespace, name}].pos
}

// FieldPosition returns where the field at path (such as
// "spec.tiers[0].ports", the form of field.Error paths) of an object is in
// the input, or of the closest enclosing field found; the zero Position if
// the object was not read.
func (o *Objects) FieldPosition(kind, namespace, name, path string) Position {
	from, ok := o.positions[objectKey{kind, namespace, name}]
	if !ok {
		return Position{}
	}
	return Position{File: from.pos.File, Line: from.doc.lineOf(join(from.path, path))}
}

// Reader reads the inputs of one command into one Objects.
type Reader struct {
	opts Options
	objs Objects
}

// NewReader returns a Reader that accepts what opts say.
func NewReader(opts Options) *Reader {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	return &Reader{opts: opts, objs: Objects{positions: map[objectKey]origin{}}}
}

// Objects returns the objects read so far.
func (r *Reader) Objects() *Objects { return &r.objs }

// Read reads the documents of one input, named file in errors. It reads
// every document even after an error, and returns all the problems found,
// each an *Error, joined with errors.Join; the objects of the documents
// without problems are kept.
func (r *Reader) Read(file string, data []byte) error {
	docs := splitDocuments(data)
	errs := make([]error, 0, len(docs))
	for _, doc := range docs {
		doc.file = file
		errs = append(errs, r.readDocument(doc)...)
	}
	return errors.Join(errs...)
}

// document is one YAML document of an input.
type document struct {
	file string
	// start is the line of data's first line; line is the line of the first
	// content, where errors about the whole document point.
	start, line int
	data        []byte
	// node is data parsed for looking up lines, when needed.
	node   *yamlv3.Node
	parsed bool
}

// splitDocuments splits data at "---" lines the way kubectl does (a "---"
// line may carry a comment), and drops the documents that hold nothing but
// blank lines and comments.
func splitDocuments(data []byte) []*document {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var docs []*document
	cur := &document{start: 1}
	flush := func() {
		if cur.line > 0 {
			docs = append(docs, cur)
		}
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, l := range lines {
		if isSeparator(l) {
			flush()
			cur = &document{start: i + 2}
			continue
		}
		if trimmed := bytes.TrimSpace(l); cur.line == 0 && len(trimmed) > 0 && trimmed[0] != '#' {
			cur.line = i + 1
		}
		cur.data = append(cur.data, l...)
	}
	flush()
	return docs
}

func isSeparator(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}

// at returns an *Error at line of the input.
func (d *document) at(line int, format string, args ...any) error {
	return &Error{Pos: Position{File: d.file, Line: line}, Err: fmt.Errorf(format, args...)}
}

// lineOf returns the input line of the field at path (such as
// "spec.tiers[0].ports"), or of the closest enclosing field found.
func (d *document) lineOf(path string) int {
	if !d.parsed {
		d.parsed = true
		var n yamlv3.Node
		if yamlv3.Unmarshal(d.data, &n) == nil {
			d.node = &n
		}
	}
	if d.node == nil {
		return d.line
	}
	return d.start - 1 + lookupLine(d.node, path)
}

// lookupLine walks path in n and returns the line of the deepest node found
// on the way. A path segment may contain dots (label keys do), so each step
// takes the longest mapping key that the path continues with.
func lookupLine(n *yamlv3.Node, path string) int {
	if n.Kind == yamlv3.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for path != "" {
		if n.Kind == yamlv3.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			i, err := strconv.Atoi(path[1:max(end, 1)])
			if end < 0 || err != nil || n.Kind != yamlv3.SequenceNode || i < 0 || i >= len(n.Content) {
				return line
			}
			n, path = n.Content[i], path[end+1:]
			line = n.Line
		default:
			if n.Kind != yamlv3.MappingNode {
				return line
			}
			best := -1
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if continuesWith(path, k) && (best < 0 || len(k) > len(n.Content[best].Value)) {
					best = i
				}
			}
			if best < 0 {
				return line
			}
			line = n.Content[best].Line
			path = path[len(n.Content[best].Value):]
			n = n.Content[best+1]
		}
	}
	return line
}

// continuesWith tells whether path starts with the field key, followed by the
// end of the path or the next segment.
func continuesWith(path, key string) bool {
	rest, ok := strings.CutPrefix(path, key)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

// typeErrorField matches the path of the field in a JSON type error, such as
// "cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of
// type map[string]string". The path has no list indexes.
var typeErrorField = regexp.MustCompile(`Go struct field [^.\s]+\.(\S+) of type`)

// yamlErrorLine matches the "line N: message" parts of YAML parser errors.
var yamlErrorLine = regexp.MustCompile(`line (\d+): ([^\n]*)`)

// readDocument reads one document, which holds one object or a List.
func (r *Reader) readDocument(d *document) []error {
	j, err := yaml.YAMLToJSONStrict(d.data)
	if err != nil {
		return d.yamlErrors(err)
	}
	if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
		return nil
	}
	if !bytes.HasPrefix(bytes.TrimSpace(j), []byte("{")) {
		return []error{d.at(d.line, "expected an object with apiVersion and kind")}
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return []error{d.at(d.lineOf("kind"), "cannot read apiVersion and kind: %v", err)}
	}
	if item, ok := r.listItemKind(tm); ok {
		return r.readList(d, j, tm, item)
	}
	return r.readObject(d, j, tm, "")
}

// yamlErrors turns a YAML parser error into errors at input lines.
func (d *document) yamlErrors(err error) []error {
	msg := err.Error()
	matches := yamlErrorLine.FindAllStringSubmatch(msg, -1)
	if len(matches) == 0 {
		return []error{d.at(d.line, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))}
	}
	var errs []error
	for _, m := range matches {
		n, _ := strconv.Atoi(m[1])
		errs = append(errs, d.at(d.start-1+n, "invalid YAML: %s", m[2]))
	}
	return errs
}

// listItemKind tells whether tm is a list (v1 List, or the typed list of an
// accepted kind) and, for a typed list, the kind and apiVersion of its items.
func (r *Reader) listItemKind(tm metav1.TypeMeta) (metav1.TypeMeta, bool) {
	if tm.Kind == "List" && tm.APIVersion == "v1" {
		return metav1.TypeMeta{}, true
	}
	if kind, ok := strings.CutSuffix(tm.Kind, "List"); ok && slices.Contains(r.opts.Kinds, kind) && tm.APIVersion == apiVersions[kind] {
		return metav1.TypeMeta{APIVersion: tm.APIVersion, Kind: kind}, true
	}
	return metav1.TypeMeta{}, false
}

// list is a v1 List, or a typed list such as a PodList.
type list struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []json.RawMessage `json:"items"`
}

func (r *Reader) readList(d *document, j []byte, tm, item metav1.TypeMeta) []error {
	var l list
	if errs := d.decodeStrict(j, &l, "", tm.Kind); len(errs) > 0 {
		return errs
	}
	var errs []error
	for i, raw := range l.Items {
		path := fmt.Sprintf("items[%d]", i)
		var itm metav1.TypeMeta
		if err := json.Unmarshal(raw, &itm); err != nil {
			errs = append(errs, d.at(d.lineOf(path), "%s: cannot read apiVersion and kind: %v", path, err))
			continue
		}
		if itm.Kind == "" && itm.APIVersion == "" {
			itm = item
		}
		if _, nested := r.listItemKind(itm); nested {
			errs = append(errs, d.at(d.lineOf(path), "%s: a List inside a List is not supported", path))
			continue
		}
		errs = append(errs, r.readObject(d, raw, itm, path)...)
	}
	return errs
}

// header is what an object says about itself, read before decoding it, to
// name it in errors.
type header struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// readObject reads one object whose JSON is j, at path ("" for the whole
// document, "items[i]" in a List).
func (r *Reader) readObject(d *document, j []byte, tm metav1.TypeMeta, path string) []error {
	line, where := d.line, ""
	if path != "" {
		line, where = d.lineOf(path), path+": "
	}
	switch {
	case tm.Kind == "":
		return []error{d.at(line, "%smissing kind: say what the document is, such as kind: %s", where, r.opts.Kinds[0])}
	case !slices.Contains(r.opts.Kinds, tm.Kind) && r.opts.SkipOtherKinds:
		return nil
	case !slices.Contains(r.opts.Kinds, tm.Kind):
		return []error{d.at(d.lineOf(join(path, "kind")), "%skind %s%s is not read here: expected %s, or a List of them",
			where, tm.Kind, inParens(tm.APIVersion), strings.Join(r.opts.Kinds, ", "))}
	case tm.APIVersion != apiVersions[tm.Kind]:
		return []error{d.at(d.lineOf(join(path, "apiVersion")), "%sapiVersion %q is not supported for kind %s: use %s",
			where, tm.APIVersion, tm.Kind, apiVersions[tm.Kind])}
	}
	var h header
	_ = json.Unmarshal(j, &h) // errors come from the strict decoding below
	if tm.Kind == KindAddress {
		return r.readAddress(d, j, path, where+describe(KindAddress, "", h.Metadata.Name))
	}
	where += describe(tm.Kind, h.Metadata.Namespace, h.Metadata.Name)

	var obj metav1.Object
	switch tm.Kind {
	case KindAppIsolation:
		obj = &tierwallv1alpha1.AppIsolation{}
	case KindNamespace:
		obj = &corev1.Namespace{}
	case KindPod:
		obj = &corev1.Pod{}
	case KindNetworkPolicy:
		obj = &networkingv1.NetworkPolicy{}
	case KindNode:
		obj = &corev1.Node{}
	case KindEndpointSlice:
		obj = &discoveryv1.EndpointSlice{}
	}
	if errs := d.decodeStrict(j, obj, path, where); len(errs) > 0 {
		return errs
	}
	if obj.GetName() == "" {
		return []error{d.at(d.lineOf(join(path, "metadata")), "%s: metadata.name is required", where)}
	}
	if !slices.Contains(clusterScoped, tm.Kind) {
		switch ns := obj.GetNamespace(); {
		case ns == "":
			obj.SetNamespace(r.opts.Namespace)
		case ns != r.opts.Namespace && r.opts.EnforceNamespace:
			return []error{d.at(d.lineOf(join(path, "metadata.namespace")),
				"%s: namespace %s does not match --namespace=%s: pass --namespace=%s, or leave the namespace out of the input",
				where, ns, r.opts.Namespace, ns)}
		}
	}
	if app, ok := obj.(*tierwallv1alpha1.AppIsolation); ok {
		if errs := r.admit(d, j, tm, app, path); len(errs) > 0 {
			return errs
		}
	}
	key := objectKey{tm.Kind, obj.GetNamespace(), obj.GetName()}
	if prev, dup := r.objs.positions[key]; dup {
		return []error{d.at(line, "%s is also defined at %s", describe(tm.Kind, key.namespace, key.name), prev.pos)}
	}
	r.objs.positions[key] = origin{pos: Position{File: d.file, Line: line}, doc: d, path: path}
	switch o := obj.(type) {
	case *tierwallv1alpha1.AppIsolation:
		r.objs.AppIsolations = append(r.objs.AppIsolations, *o)
	case *corev1.Namespace:
		r.objs.Namespaces = append(r.objs.Namespaces, *o)
	case *corev1.Pod:
		r.objs.Pods = append(r.objs.Pods, *o)
	case *networkingv1.NetworkPolicy:
		r.objs.NetworkPolicies = append(r.objs.NetworkPolicies, *o)
	case *corev1.Node:
		r.objs.Nodes = append(r.objs.Nodes, *o)
	case *discoveryv1.EndpointSlice:
		r.objs.EndpointSlices = append(r.objs.EndpointSlices, *o)
	}
	return nil
}

// readAddress reads and checks an Address, whose JSON is j, at path; where
// is the prefix of its errors, naming it.
func (r *Reader) readAddress(d *document, j []byte, path, where string) []error {
	var a Address
	if errs := d.decodeStrict(j, &a, path, where); len(errs) > 0 {
		return errs
	}
	line := d.line
	if path != "" {
		line = d.lineOf(path)
	}
	var errs []error
	if _, err := netip.ParseAddr(a.Address); err != nil {
		msg := fmt.Sprintf("address %q is not an IPv4 or IPv6 address", a.Address)
		if a.Address == "" {
			msg = "address is required: an IPv4 or IPv6 address, such as 203.0.113.7"
		} else if strings.Contains(a.Address, "/") {
			msg += " (give one address, not a CIDR)"
		}
		errs = append(errs, d.at(d.lineOf(join(path, "address")), "%s: %s", where, msg))
	}
	if strings.ContainsFunc(a.Metadata.Name, unicode.IsSpace) {
		errs = append(errs, d.at(d.lineOf(join(path, "metadata.name")), "%s: metadata.name %q contains a space", where, a.Metadata.Name))
	}
	for i, p := range a.Ports {
		at := join(path, fmt.Sprintf("ports[%d]", i))
		if p.Port < 1 || p.Port > 65535 {
			errs = append(errs, d.at(d.lineOf(at+".port"), "%s: ports[%d].port: %d is not from 1 to 65535", where, i, p.Port))
		}
		switch p.Protocol {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			errs = append(errs, d.at(d.lineOf(at+".protocol"), "%s: ports[%d].protocol: %q is not TCP, UDP or SCTP", where, i, p.Protocol))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	key := objectKey{KindAddress, "", a.Name()}
	if prev, dup := r.objs.positions[key]; dup {
		return []error{d.at(line, "%s is also defined at %s", describe(KindAddress, "", key.name), prev.pos)}
	}
	r.objs.positions[key] = origin{pos: Position{File: d.file, Line: line}, doc: d, path: path}
	r.objs.Addresses = append(r.objs.Addresses, a)
	return nil
}

// appIsolationAdmission admits AppIsolations, with the embedded CRD.
var appIsolationAdmission = sync.OnceValues(func() (*admission.Validator, error) {
	def, err := crd.AppIsolation()
	if err != nil {
		return nil, err
	}
	return admission.New(def, tierwallv1alpha1.GroupVersion.Version)
})

// admit runs the AppIsolation app, read from j (of type tm, at path), through
// the API server's admission, and returns its errors at the lines of their
// fields. When there are none, it replaces app with the admitted object,
// defaults applied.
func (r *Reader) admit(d *document, j []byte, tm metav1.TypeMeta, app *tierwallv1alpha1.AppIsolation, path string) []error {
	line, where := d.line, describe(tm.Kind, app.Namespace, app.Name)
	if path != "" {
		line, where = d.lineOf(path), path+": "+where
	}
	v, err := appIsolationAdmission()
	if err != nil {
		return []error{d.at(line, "%s: cannot validate: %v", where, err)}
	}
	// The object as written, not as decoded: admission tells an empty list
	// from a missing one, which the Go types do not.
	u := &unstructured.Unstructured{}
	if err := utiljson.Unmarshal(j, &u.Object); err != nil {
		return []error{d.at(line, "%s: %v", where, err)}
	}
	u.SetAPIVersion(tm.APIVersion)
	u.SetKind(tm.Kind)
	u.SetNamespace(app.Namespace)
	fieldErrs := v.Admit(context.Background(), u)
	admitted := tierwallv1alpha1.AppIsolation{}
	decodeErr := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &admitted)
	if len(fieldErrs) == 0 {
		if decodeErr != nil {
			return []error{d.at(line, "%s: cannot read the admitted object: %v", where, decodeErr)}
		}
		*app = admitted
		return nil
	}
	// The schema's errors come in map order; report them in the order of
	// their lines so the same input always prints the same errors.
	lines := make(map[*field.Error]int, len(fieldErrs))
	for _, e := range fieldErrs {
		lines[e] = d.lineOf(join(path, e.Field))
	}
	slices.SortStableFunc(fieldErrs, func(a, b *field.Error) int {
		return cmp.Or(cmp.Compare(lines[a], lines[b]), strings.Compare(a.Field, b.Field))
	})
	errs := make([]error, 0, len(fieldErrs))
	reported := map[string]bool{}
	for _, e := range fieldErrs {
		errs = append(errs, d.at(lines[e], "%s is invalid: %s", where, e.Error()))
		reported[e.Field] = true
	}
	if r.opts.Explain == nil || decodeErr != nil {
		return errs
	}
	// An explanation about a field that admission reported already, or
	// about a field of the entry it reported, says nothing new.
	for _, e := range r.opts.Explain(&admitted) {
		if !reported[e.Field] && !reported[parent(e.Field)] {
			errs = append(errs, d.at(d.lineOf(join(path, e.Field)), "%s: invalid spec: %s", where, e.Error()))
		}
	}
	return errs
}

// parent returns the path of the field or entry that holds the one at
// path: spec.tiers[0] for spec.tiers[0].name, spec.tiers for spec.tiers[0].
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i > 0 {
		return path[:i]
	}
	return ""
}

// describe names an object the way kubectl does: kind namespace/name.
func describe(kind, namespace, name string) string {
	switch {
	case name == "":
		return kind
	case namespace == "":
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// decodeStrict decodes j into obj, rejecting unknown and duplicate fields,
// and returns the problems at the lines of the fields.
func (d *document) decodeStrict(j []byte, obj any, path, where string) []error {
	strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		line := d.line
		if path != "" {
			line = d.lineOf(path)
		}
		if m := typeErrorField.FindStringSubmatch(err.Error()); m != nil {
			line = d.lineOf(join(path, m[1]))
		}
		return []error{d.at(line, "%s: %s", where, strings.TrimPrefix(err.Error(), "json: "))}
	}
	errs := make([]error, 0, len(strict))
	for _, e := range strict {
		line := d.line
		if fe, ok := errors.AsType[kjson.FieldError](e); ok {
			line = d.lineOf(join(path, fe.FieldPath()))
		}
		errs = append(errs, d.at(line, "%s: %v", where, e))
	}
	// The decoder reports fields in key order; the reader wants line order.
	slices.SortStableFunc(errs, func(a, b error) int { return errorLine(a) - errorLine(b) })
	return errs
}

// errorLine is the line of an *Error, 0 for another error.
func errorLine(err error) int {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Pos.Line
	}
	return 0
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func inParens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}
