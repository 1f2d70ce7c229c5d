// Package awsmodel holds the trimmed AWS API models (generated from botocore by
// tools/genmodels.py) and validates request values against them: required
// members, types, enums, lengths, numeric bounds and patterns, as the service
// itself would.
package awsmodel

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

//go:embed imagebuilder.json transfer.json
var files embed.FS

// Service is one AWS service model.
type Service struct {
	Name         string
	APIVersion   string                `json:"apiVersion"`
	Protocol     string                `json:"protocol"`
	SigningName  string                `json:"signingName"`
	TargetPrefix string                `json:"targetPrefix"`
	Operations   map[string]*Operation `json:"operations"`
	Shapes       map[string]*Shape     `json:"shapes"`
}

// Operation is one API operation: its HTTP binding, input shape and the error
// codes the model lists for it.
type Operation struct {
	Name   string
	Method string   `json:"method"`
	URI    string   `json:"uri"`
	Errors []string `json:"errors"`
	Input  string   `json:"input"`
	Output string   `json:"output"`

	errors map[string]bool
}

// Models reports whether code is one of the operation's modelled errors.
func (o *Operation) Models(code string) bool { return o.errors[code] }

// Shape is a model shape with its constraints.
type Shape struct {
	Name      string
	Type      string            `json:"type"`
	Required  []string          `json:"required"`
	Min       *float64          `json:"min"`
	Max       *float64          `json:"max"`
	Pattern   string            `json:"pattern"`
	Enum      []string          `json:"enum"`
	Members   map[string]Member `json:"members"`
	Member    string            `json:"member"`
	Key       string            `json:"key"`
	Value     string            `json:"value"`
	Exception bool              `json:"exception"`
	Status    int               `json:"status"`

	re           *regexp.Regexp
	forbidPrefix string
}

// Member is one member of a structure shape.
type Member struct {
	Shape            string `json:"shape"`
	Location         string `json:"location"`
	LocationName     string `json:"locationName"`
	IdempotencyToken bool   `json:"idempotencyToken"`
}

var (
	mu     sync.Mutex
	loaded = map[string]*Service{}
)

// Load returns the named service model ("imagebuilder" or "transfer"). It
// panics if the embedded model is missing or broken, which is a build defect.
func Load(name string) *Service {
	mu.Lock()
	defer mu.Unlock()
	if s, ok := loaded[name]; ok {
		return s
	}
	b, err := files.ReadFile(name + ".json")
	if err != nil {
		panic("awsmodel: no model for " + name)
	}
	s := &Service{Name: name}
	if err := json.Unmarshal(b, s); err != nil {
		panic("awsmodel: " + name + ": " + err.Error())
	}
	for n, op := range s.Operations {
		op.Name = n
		op.errors = map[string]bool{}
		for _, e := range op.Errors {
			op.errors[e] = true
		}
	}
	for n, sh := range s.Shapes {
		sh.Name = n
		if sh.Pattern != "" {
			if err := sh.compile(); err != nil {
				panic(fmt.Sprintf("awsmodel: %s shape %s: %v", name, n, err))
			}
		}
	}
	loaded[name] = s
	return s
}

var (
	javaUnicode = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)
	bigRepeat   = regexp.MustCompile(`\{1,[0-9]{4,}\}`)
)

// compile turns the model's Java-flavoured pattern into RE2. AWS validates
// with a whole-value match, so the result is anchored at both ends.
func (sh *Shape) compile() error {
	p := sh.Pattern
	// The only lookahead in the models is a forbidden prefix: ^(?!aws:)...
	if strings.HasPrefix(p, "^(?!") {
		end := strings.Index(p, ")")
		sh.forbidPrefix = p[4:end]
		p = "^" + p[end+1:]
	}
	p = javaUnicode.ReplaceAllString(p, `\x{$1}`)
	p = strings.ReplaceAll(p, `\p{Print}`, `\x20-\x7E`)
	// RE2 caps repeat counts at 1000; the shape's max length bounds it anyway.
	p = bigRepeat.ReplaceAllString(p, `+`)
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		return err
	}
	sh.re = re
	return nil
}
