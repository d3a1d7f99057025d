package geoipdb

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

// TestWriteAll writes the databases and reads them back with an independent MaxMind reader.
func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	if err := WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	open := func(name string) *maxminddb.Reader {
		r, err := maxminddb.Open(filepath.Join(dir, name+".mmdb"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		if r.Metadata.DatabaseType != name {
			t.Errorf("%s: database type %q", name, r.Metadata.DatabaseType)
		}
		return r
	}
	city, asn, country := open("GeoLite2-City"), open("GeoLite2-ASN"), open("GeoLite2-Country")

	var c struct {
		City struct {
			Names map[string]string `maxminddb:"names"`
		} `maxminddb:"city"`
		Country struct {
			ISO string `maxminddb:"iso_code"`
		} `maxminddb:"country"`
		Location struct {
			Lat float64 `maxminddb:"latitude"`
			Lon float64 `maxminddb:"longitude"`
		} `maxminddb:"location"`
		Subdivisions []struct {
			ISO string `maxminddb:"iso_code"`
		} `maxminddb:"subdivisions"`
	}
	if err := city.Lookup(netip.MustParseAddr("89.160.20.200")).Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.City.Names["en"] != "Linköping" || c.Country.ISO != "SE" || c.Location.Lat != 58.4167 ||
		len(c.Subdivisions) != 1 || c.Subdivisions[0].ISO != "E" {
		t.Errorf("89.160.20.200 city record = %+v", c)
	}
	var a struct {
		Number uint32 `maxminddb:"autonomous_system_number"`
		Org    string `maxminddb:"autonomous_system_organization"`
	}
	if err := asn.Lookup(netip.MustParseAddr("2a02:cf47::1")).Decode(&a); err != nil {
		t.Fatal(err)
	}
	if a.Number != 1136 || a.Org != "KPN B.V." {
		t.Errorf("2a02:cf47::1 ASN record = %+v", a)
	}
	// Outside every test network: nothing found.
	res := country.Lookup(netip.MustParseAddr("192.0.2.1"))
	if res.Err() != nil || res.Found() {
		t.Errorf("192.0.2.1 found in the country database (err %v)", res.Err())
	}
}
