package imagebuilder

import (
	"context"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

// recipeKind holds what differs between image and container recipes.
type recipeKind struct {
	sp       spec
	arnField string // the request member naming the recipe ARN
	out      string // the Get response member
	list     string // the List response member
	summary  []string
}

var (
	imageRecipes = recipeKind{specImageRecipe, "imageRecipeArn", "imageRecipe", "imageRecipeSummaryList",
		[]string{"arn", "name", "platform", "owner", "parentImage", "dateCreated"}}
	containerRecipes = recipeKind{specContainerRecipe, "containerRecipeArn", "containerRecipe", "containerRecipeSummaryList",
		[]string{"arn", "containerType", "name", "platform", "owner", "parentImage", "dateCreated"}}
)

func recipeSortKey(name string, v arn.Version) string {
	return arn.NormalizeName(name) + "/" + v.SortKey()
}

// fillWildcard turns a version like 1.0.x into the next free concrete
// version among the recipe's existing versions.
func fillWildcard(tx store.Tx, scope store.Scope, rk recipeKind, name string, v arn.Version) (arn.Version, error) {
	if !v.HasWildcard() {
		return v, nil
	}
	prefix := arn.NormalizeName(name) + "/"
	recs, _, err := pager{q: store.ListQuery{Scope: scope, Kind: rk.sp.Kind, After: prefix}, max: 1 << 30,
		stop: func(r *store.Record) bool { return !strings.HasPrefix(r.SortKey, prefix) }}.run(tx)
	if err != nil {
		return v, err
	}
	next := func(get func(arn.Version) int, match func(arn.Version) bool) int {
		n := 0
		for _, r := range recs {
			c := mustVersion(r.ID[strings.LastIndexByte(r.ID, '/')+1:])
			if match(c) && get(c)+1 > n {
				n = get(c) + 1
			}
		}
		return n
	}
	out := v
	switch {
	case v.Major == arn.Wildcard:
		out = arn.Version{Major: next(func(c arn.Version) int { return c.Major }, func(arn.Version) bool { return true })}
	case v.Minor == arn.Wildcard:
		out = arn.Version{Major: v.Major, Minor: next(func(c arn.Version) int { return c.Minor }, func(c arn.Version) bool { return c.Major == v.Major })}
	default:
		out.Patch = next(func(c arn.Version) int { return c.Patch }, func(c arn.Version) bool { return c.Major == v.Major && c.Minor == v.Minor })
	}
	if out.Major > arn.MaxVersionNode || out.Minor > arn.MaxVersionNode || out.Patch > arn.MaxVersionNode {
		return v, fault.New(fault.InvalidVersion, "No free version is left for %s.", v)
	}
	return out, nil
}

// checkComponents resolves every component a recipe names and returns the
// builds it depends on and the platform they share.
func (s *Service) checkComponents(tx store.Tx, scope store.Scope, in Doc) ([]string, string, error) {
	var builds []string
	platform := ""
	for i, raw := range list(in, "components") {
		c, _ := raw.(map[string]any)
		field := "components[" + strconv.Itoa(i) + "].componentArn"
		comp, err := s.resolveComponent(tx, scope, str(c, "componentArn"), field)
		if fault.Is(err, fault.NotFound) {
			return nil, "", fault.InvalidField(field, "The component '%s' does not exist.", str(c, "componentArn"))
		} else if err != nil {
			return nil, "", err
		}
		if platform == "" {
			platform = str(comp, "platform")
		} else if str(comp, "platform") != platform {
			return nil, "", fault.InvalidField(field, "The component '%s' is for %s, but the recipe's other components are for %s.", str(comp, "arn"), str(comp, "platform"), platform)
		}
		declared := map[string]bool{}
		for _, p := range list(comp, "parameters") {
			declared[str(p.(map[string]any), "name")] = true
		}
		for _, p := range list(c, "parameters") {
			if n := str(p.(map[string]any), "name"); !declared[n] {
				return nil, "", fault.InvalidField(field, "The component '%s' has no parameter named '%s'.", str(comp, "arn"), n)
			}
		}
		if str(comp, "owner") != ManagedOwnerName {
			builds = append(builds, str(comp, "arn"))
		}
	}
	return builds, platform, nil
}

// parentPlatform infers the platform of a parent image when no component
// says it: Image Builder image ARNs name it; AMIs default to Linux.
func parentPlatform(parent string) string {
	if strings.Contains(strings.ToLower(parent), "windows") {
		return "Windows"
	}
	return "Linux"
}

// CreateImageRecipe stores an image recipe version.
func (s *Service) CreateImageRecipe(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.createRecipe(ctx, scope, imageRecipes, "CreateImageRecipe", in)
}

// CreateContainerRecipe stores a container recipe version.
func (s *Service) CreateContainerRecipe(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	data, err := s.document(ctx, "dockerfileTemplateData", str(in, "dockerfileTemplateData"), "dockerfileTemplateUri", str(in, "dockerfileTemplateUri"))
	if err != nil {
		return nil, err
	}
	// The template is kept (and returned) as data, whichever way it came.
	in["dockerfileTemplateData"] = data
	return s.createRecipe(ctx, scope, containerRecipes, "CreateContainerRecipe", in)
}

func (s *Service) createRecipe(ctx context.Context, scope store.Scope, rk recipeKind, op string, in Doc) (Doc, error) {
	v, err := arn.ParseWildcard(str(in, "semanticVersion"))
	if err != nil {
		return nil, &fault.Error{Kind: fault.InvalidVersion, Field: "semanticVersion", Message: "The value supplied for parameter 'semanticVersion' is not valid. " + err.Error() + "."}
	}
	if len(list(in, "components")) == 0 {
		return nil, fault.InvalidField("components", "A recipe needs at least one component.")
	}
	now := s.nowMillis()
	name := str(in, "name")
	return s.idempotent(ctx, scope, op, in, func(tx store.Tx) (Doc, error) {
		builds, platform, err := s.checkComponents(tx, scope, in)
		if err != nil {
			return nil, err
		}
		if err := dryRun(in); err != nil {
			return nil, err
		}
		if v, err = fillWildcard(tx, scope, rk, name, v); err != nil {
			return nil, err
		}
		a := resourceARN(scope, scope.Account, rk.sp.ARNType+"/"+arn.NormalizeName(name)+"/"+v.String())
		if parent := str(in, "parentImage"); strings.HasPrefix(parent, "arn:") {
			// An image ARN (own or AWS-managed, by build, version or
			// wildcard) must name an image that exists.
			pd, _, err := s.resolveImage(tx, scope, parent, "parentImage")
			if err != nil {
				return nil, fault.InvalidField("parentImage", "The parent image '%s' does not exist.", parent)
			}
			if platform == "" {
				platform = str(pd, "platform")
			}
		}
		if platform == "" {
			platform = parentPlatform(str(in, "parentImage"))
		}
		if p := str(in, "platformOverride"); p != "" {
			platform = p
		}
		d := body(in, "semanticVersion", "dockerfileTemplateUri", "platformOverride", "imageOsVersionOverride")
		d["arn"], d["version"], d["owner"], d["platform"], d["dateCreated"] = a, v.String(), scope.Account, platform, FormatTime(now)
		if rk.sp == specImageRecipe {
			d["type"] = "AMI"
		} else {
			d["encrypted"] = true
		}
		if err := insertDoc(tx, scope, rk.sp, a, "", recipeSortKey(name, v), d, tagsOf(in), now); err != nil {
			return nil, err
		}
		if err := setRefs(tx, scope, a, builds, now); err != nil {
			return nil, err
		}
		return Doc{"clientToken": in["clientToken"], rk.arnField: a, "latestVersionReferences": references(a, v.String(), false)}, nil
	})
}

func (s *Service) recipeARN(rk recipeKind, scope store.Scope, raw string) error {
	a, parts, err := parseARN(raw, rk.arnField, rk.sp, 2, 2)
	if err != nil {
		return err
	}
	if _, err := arn.ParseVersion(parts[1]); err != nil {
		return fault.InvalidField(rk.arnField, "%s must name a version without wildcards.", raw)
	}
	if !ownedBy(a, scope) {
		return notFound(rk.sp, raw)
	}
	return nil
}

// GetImageRecipe returns an image recipe.
func (s *Service) GetImageRecipe(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.getRecipe(ctx, scope, imageRecipes, in)
}

// GetContainerRecipe returns a container recipe.
func (s *Service) GetContainerRecipe(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.getRecipe(ctx, scope, containerRecipes, in)
}

func (s *Service) getRecipe(ctx context.Context, scope store.Scope, rk recipeKind, in Doc) (Doc, error) {
	raw := str(in, rk.arnField)
	if err := s.recipeARN(rk, scope, raw); err != nil {
		return nil, err
	}
	var out Doc
	err := s.store.View(ctx, func(tx store.Tx) error {
		d, rec, err := loadDoc(tx, scope, rk.sp, raw)
		if err != nil {
			return err
		}
		out = Doc{rk.out: withTags(d, rec.Tags), "latestVersionReferences": references(raw, str(d, "version"), false)}
		return nil
	})
	return out, err
}

// ListImageRecipes lists image recipes.
func (s *Service) ListImageRecipes(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.listRecipes(ctx, scope, imageRecipes, in, map[string]func(Doc) []string{
		"name": field("name"), "parentImage": field("parentImage"), "platform": field("platform"),
	})
}

// ListContainerRecipes lists container recipes.
func (s *Service) ListContainerRecipes(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.listRecipes(ctx, scope, containerRecipes, in, map[string]func(Doc) []string{
		"containerType": field("containerType"), "name": field("name"), "parentImage": field("parentImage"), "platform": field("platform"),
	})
}

func (s *Service) listRecipes(ctx context.Context, scope store.Scope, rk recipeKind, in Doc, allowed map[string]func(Doc) []string) (Doc, error) {
	accept, err := filters(in, allowed)
	if err != nil {
		return nil, err
	}
	items := []any{}
	out := Doc{rk.list: items}
	if o := str(in, "owner"); o != "" && o != "Self" {
		return out, nil // nothing is shared with or sold to this account here
	}
	docs, recs, next, err := s.page(ctx, scope, "List"+rk.sp.Type+"s", in, rk.sp.Kind, "", func(_ store.Tx, d Doc, _ *store.Record) bool { return accept(d) })
	if err != nil {
		return nil, err
	}
	for i, d := range docs {
		items = append(items, withTags(project(d, rk.summary...), recs[i].Tags))
	}
	out[rk.list] = items
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// DeleteImageRecipe deletes an image recipe no pipeline uses.
func (s *Service) DeleteImageRecipe(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.deleteRecipe(ctx, scope, imageRecipes, in)
}

// DeleteContainerRecipe deletes a container recipe no pipeline uses.
func (s *Service) DeleteContainerRecipe(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.deleteRecipe(ctx, scope, containerRecipes, in)
}

func (s *Service) deleteRecipe(ctx context.Context, scope store.Scope, rk recipeKind, in Doc) (Doc, error) {
	raw := str(in, rk.arnField)
	if err := s.recipeARN(rk, scope, raw); err != nil {
		return nil, err
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if _, _, err := loadDoc(tx, scope, rk.sp, raw); err != nil {
			return err
		}
		if err := checkUnused(tx, scope, rk.sp, raw); err != nil {
			return err
		}
		if err := clearRefs(tx, scope, raw); err != nil {
			return err
		}
		if err := dropPolicy(tx, scope, raw); err != nil {
			return err
		}
		return tx.Delete(scope, rk.sp.Kind, raw)
	})
	if err != nil {
		return nil, err
	}
	return Doc{rk.arnField: raw}, nil
}

// PutImageRecipePolicy sets an image recipe's resource policy.
func (s *Service) PutImageRecipePolicy(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.putRecipePolicy(ctx, scope, imageRecipes, in)
}

// PutContainerRecipePolicy sets a container recipe's resource policy.
func (s *Service) PutContainerRecipePolicy(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	return s.putRecipePolicy(ctx, scope, containerRecipes, in)
}

func (s *Service) putRecipePolicy(ctx context.Context, scope store.Scope, rk recipeKind, in Doc) (Doc, error) {
	raw := str(in, rk.arnField)
	if err := s.recipeARN(rk, scope, raw); err != nil {
		return nil, err
	}
	err := s.putPolicy(ctx, scope, raw, str(in, "policy"), func(tx store.Tx) error {
		_, _, err := loadDoc(tx, scope, rk.sp, raw)
		return err
	})
	if err != nil {
		return nil, err
	}
	return Doc{rk.arnField: raw}, nil
}

// GetImageRecipePolicy returns an image recipe's resource policy.
func (s *Service) GetImageRecipePolicy(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	p, err := s.getPolicy(ctx, scope, specImageRecipe, str(in, "imageRecipeArn"))
	if err != nil {
		return nil, err
	}
	return Doc{"policy": p}, nil
}

// GetContainerRecipePolicy returns a container recipe's resource policy.
func (s *Service) GetContainerRecipePolicy(ctx context.Context, scope store.Scope, in Doc) (Doc, error) {
	p, err := s.getPolicy(ctx, scope, specContainerRecipe, str(in, "containerRecipeArn"))
	if err != nil {
		return nil, err
	}
	return Doc{"policy": p}, nil
}
