// Package plugins is third-party code the host does not trust.
package plugins

import (
	"fmt"
	"strings"

	"github.com/frozen-go/frozen/examples/plugin/catalog"
)

// All returns the installed plugins.
func All() []catalog.Plugin { return []catalog.Plugin{Report{}, LowStock{}, Discount{}, Convert{}} }

// Report sums the catalogue's value. It only reads.
type Report struct{}

// Name implements catalog.Plugin.
func (Report) Name() string { return "report" }

// Run implements catalog.Plugin.
func (Report) Run(c *catalog.Catalog) string {
	total := 0
	for _, p := range c.Products {
		total += p.Price * p.Stock
	}
	return fmt.Sprintf("%d products, stock worth %d.%02d %s, first price %d", len(c.Products), total/100, total%100, c.Currency, c.Products[0].Price)
}

// LowStock lists products running out. It only reads.
type LowStock struct{}

// Name implements catalog.Plugin.
func (LowStock) Name() string { return "low-stock" }

// Run implements catalog.Plugin.
func (LowStock) Run(c *catalog.Catalog) string {
	var low []string
	for _, p := range c.Products {
		if p.Stock < 5 {
			low = append(low, p.SKU)
		}
	}
	return "low: " + strings.Join(low, ", ")
}

// Discount applies a sale. Its author "optimised" it to change prices in
// place instead of returning new ones: the bug this example catches.
type Discount struct{}

// Name implements catalog.Plugin.
func (Discount) Name() string { return "discount" }

// Run implements catalog.Plugin.
func (Discount) Run(c *catalog.Catalog) string {
	for i := range c.Products {
		if hasTag(c.Products[i].Tags, "sale") {
			c.Products[i].Price = c.Products[i].Price * 80 / 100
		}
	}
	return "prices discounted"
}

// Convert shows prices in dollars. It relabels the catalogue it was given
// before converting, as if the catalogue were its own copy.
type Convert struct{}

// Name implements catalog.Plugin.
func (Convert) Name() string { return "convert" }

// Run implements catalog.Plugin.
func (Convert) Run(c *catalog.Catalog) string {
	c.Currency = "USD"
	var prices []string
	for _, p := range c.Products {
		prices = append(prices, fmt.Sprintf("%s %d", p.SKU, p.Price*108/100))
	}
	return "in USD: " + strings.Join(prices, ", ")
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}
