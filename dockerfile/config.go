package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is hadolint's configuration, as .hadolint.yaml, HADOLINT_*
// variables and command-line flags give it. Unset fields are nil or empty,
// so configurations can be layered with Merge. The zero value is hadolint's
// default.
type Config struct {
	NoFail              *bool             `yaml:"no-fail"`
	NoColor             *bool             `yaml:"no-color"`
	Verbose             *bool             `yaml:"verbose"` // accepted for compatibility; kaj prints nothing more
	Format              string            `yaml:"format"`
	Formats             []string          `yaml:"formats"` // hadolint's list form; kaj writes the last one
	Ignored             []string          `yaml:"ignored"`
	Override            ConfigOverride    `yaml:"override"`
	TrustedRegistries   []string          `yaml:"trustedRegistries"`
	LabelSchema         map[string]string `yaml:"label-schema"`
	StrictLabels        *bool             `yaml:"strict-labels"`
	DisableIgnorePragma *bool             `yaml:"disable-ignore-pragma"`
	FailureThreshold    *Severity         `yaml:"failure-threshold"`
}

// ConfigOverride lists rules to report at another severity than their own.
type ConfigOverride struct {
	Error   []string `yaml:"error"`
	Warning []string `yaml:"warning"`
	Info    []string `yaml:"info"`
	Style   []string `yaml:"style"`
}

// ErrInvalidConfig is wrapped by ParseConfig's error for a configuration
// that does not decode or names unknown keys, rules or severities.
var ErrInvalidConfig = errors.New("invalid hadolint configuration")

// ParseConfig reads a .hadolint.yaml. Keys hadolint does not know are an
// error, so a misspelt key is not silently ignored; an empty file is the
// default configuration.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if _, err := c.Options(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Merge returns c with over laid on top, as hadolint layers its sources:
// over's settings win, lists are joined.
func (c Config) Merge(over Config) Config {
	out := c
	pick := func(a, b *bool) *bool {
		if b != nil {
			return b
		}
		return a
	}
	out.NoFail = pick(c.NoFail, over.NoFail)
	out.NoColor = pick(c.NoColor, over.NoColor)
	out.Verbose = pick(c.Verbose, over.Verbose)
	out.StrictLabels = pick(c.StrictLabels, over.StrictLabels)
	out.DisableIgnorePragma = pick(c.DisableIgnorePragma, over.DisableIgnorePragma)
	if over.FailureThreshold != nil {
		out.FailureThreshold = over.FailureThreshold
	}
	if over.Format != "" {
		out.Format = over.Format
	}
	join := func(a, b []string) []string { return append(slices.Clip(a), b...) }
	out.Formats = join(c.Formats, over.Formats)
	out.Ignored = join(c.Ignored, over.Ignored)
	out.TrustedRegistries = join(c.TrustedRegistries, over.TrustedRegistries)
	out.Override = ConfigOverride{
		Error:   join(c.Override.Error, over.Override.Error),
		Warning: join(c.Override.Warning, over.Override.Warning),
		Info:    join(c.Override.Info, over.Override.Info),
		Style:   join(c.Override.Style, over.Override.Style),
	}
	if len(over.LabelSchema) > 0 {
		out.LabelSchema = make(map[string]string, len(c.LabelSchema)+len(over.LabelSchema))
		for k, v := range c.LabelSchema {
			out.LabelSchema[k] = v
		}
		for k, v := range over.LabelSchema {
			out.LabelSchema[k] = v
		}
	}
	return out
}

// OutputFormat returns the format the configuration asks for, "" if none.
func (c Config) OutputFormat() string {
	if c.Format != "" {
		return c.Format
	}
	if len(c.Formats) > 0 {
		return c.Formats[len(c.Formats)-1]
	}
	return ""
}

// Options turns the configuration into Lint's options, wrapping
// ErrInvalidConfig when a rule code or label type is wrong. An override to
// error wins over warning, warning over info, info over style, as in
// hadolint.
func (c Config) Options() (Options, error) {
	norm := func(codes []string) []string {
		out := make([]string, 0, len(codes))
		for _, code := range codes {
			if code = strings.ToUpper(strings.TrimSpace(code)); code != "" {
				out = append(out, code)
			}
		}
		return out
	}
	o := Options{
		Ignore:              norm(c.Ignored),
		TrustedRegistries:   c.TrustedRegistries,
		LabelSchema:         c.LabelSchema,
		StrictLabels:        c.StrictLabels != nil && *c.StrictLabels,
		DisableIgnorePragma: c.DisableIgnorePragma != nil && *c.DisableIgnorePragma,
	}
	for _, ov := range []struct {
		codes []string
		sev   Severity
	}{{c.Override.Style, SeverityStyle}, {c.Override.Info, SeverityInfo}, {c.Override.Warning, SeverityWarning}, {c.Override.Error, SeverityError}} {
		for _, code := range norm(ov.codes) {
			if o.Override == nil {
				o.Override = map[string]Severity{}
			}
			o.Override[code] = ov.sev
		}
	}
	if err := o.Validate(); err != nil {
		return Options{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return o, nil
}
