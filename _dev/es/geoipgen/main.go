// Command geoipgen writes small GeoLite2-City, GeoLite2-Country and
// GeoLite2-ASN format databases for the pipeline tests.
//
// The engine's geoip processor refuses to start without all three files, and
// the real databases cannot be fetched here (nor shipped: their licence forbids
// it). These hold a handful of documentation/test networks whose values are
// our own, modelled on the record layout of MaxMind's public test databases,
// so the geoip pipeline's output can be asserted exactly.
//
// Usage: go run ./_dev/es/geoipgen -out DIR
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// place is one test network's location and owner.
type place struct {
	cidr          string
	city          string
	cityID        uint32
	subdivISO     string
	subdivName    string
	countryISO    string
	countryName   string
	countryID     uint32
	continentCode string
	continentName string
	continentID   uint32
	lat, lon      float64
	timeZone      string
	asn           uint32
	asOrg         string
}

// Places is exported to the tests through the README; keep both in step.
var places = []place{
	{cidr: "89.160.20.128/25", city: "Linköping", cityID: 2694762, subdivISO: "E", subdivName: "Östergötland County",
		countryISO: "SE", countryName: "Sweden", countryID: 2661886, continentCode: "EU", continentName: "Europe", continentID: 6255148,
		lat: 58.4167, lon: 15.6167, timeZone: "Europe/Stockholm", asn: 29518, asOrg: "Bredband2 AB"},
	{cidr: "216.160.83.56/29", city: "Milton", cityID: 5803556, subdivISO: "WA", subdivName: "Washington",
		countryISO: "US", countryName: "United States", countryID: 6252001, continentCode: "NA", continentName: "North America", continentID: 6255149,
		lat: 47.2513, lon: -122.3149, timeZone: "America/Los_Angeles", asn: 209, asOrg: "Qwest Communications Company, LLC"},
	{cidr: "175.16.199.0/24", city: "Changchun", cityID: 2038180, subdivISO: "22", subdivName: "Jilin Sheng",
		countryISO: "CN", countryName: "China", countryID: 1814991, continentCode: "AS", continentName: "Asia", continentID: 6255147,
		lat: 43.88, lon: 125.3228, timeZone: "Asia/Harbin", asn: 4837, asOrg: "CHINA UNICOM China169 Backbone"},
	{cidr: "2a02:cf40::/29", city: "Amsterdam", cityID: 2759794, subdivISO: "NH", subdivName: "North Holland",
		countryISO: "NL", countryName: "Netherlands", countryID: 2750405, continentCode: "EU", continentName: "Europe", continentID: 6255148,
		lat: 52.3759, lon: 4.8975, timeZone: "Europe/Amsterdam", asn: 1136, asOrg: "KPN B.V."},
}

func names(en string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(en)} }

func (p place) continent() mmdbtype.Map {
	return mmdbtype.Map{"code": mmdbtype.String(p.continentCode), "geoname_id": mmdbtype.Uint32(p.continentID), "names": names(p.continentName)}
}

func (p place) country() mmdbtype.Map {
	return mmdbtype.Map{"geoname_id": mmdbtype.Uint32(p.countryID), "iso_code": mmdbtype.String(p.countryISO), "names": names(p.countryName)}
}

func (p place) countryRecord() mmdbtype.Map {
	return mmdbtype.Map{"continent": p.continent(), "country": p.country(), "registered_country": p.country()}
}

func (p place) cityRecord() mmdbtype.Map {
	m := p.countryRecord()
	m["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(p.cityID), "names": names(p.city)}
	m["location"] = mmdbtype.Map{
		"accuracy_radius": mmdbtype.Uint16(100),
		"latitude":        mmdbtype.Float64(p.lat),
		"longitude":       mmdbtype.Float64(p.lon),
		"time_zone":       mmdbtype.String(p.timeZone),
	}
	m["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String(p.subdivISO), "names": names(p.subdivName)}}
	return m
}

func (p place) asnRecord() mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(p.asn),
		"autonomous_system_organization": mmdbtype.String(p.asOrg),
	}
}

func write(dir, dbType string, record func(place) mmdbtype.Map) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		Description:  map[string]string{"en": dbType + " test database for network-traffic pipeline tests"},
		Languages:    []string{"en"},
		RecordSize:   28,
		IPVersion:    6,
		// 89.160.20.128/25 etc. are public, but keep the writer from refusing
		// anything we might add from the documentation ranges later.
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return err
	}
	for _, p := range places {
		_, network, err := net.ParseCIDR(p.cidr)
		if err != nil {
			return fmt.Errorf("%s: %w", p.cidr, err)
		}
		if err := tree.Insert(network, record(p)); err != nil {
			return fmt.Errorf("%s %s: %w", dbType, p.cidr, err)
		}
	}
	path := filepath.Join(dir, dbType+".mmdb")
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func main() {
	out := flag.String("out", ".", "directory to write GeoLite2-{City,Country,ASN}.mmdb into")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "geoipgen:", err)
		os.Exit(1)
	}
	for _, db := range []struct {
		name   string
		record func(place) mmdbtype.Map
	}{
		{"GeoLite2-City", place.cityRecord},
		{"GeoLite2-Country", place.countryRecord},
		{"GeoLite2-ASN", place.asnRecord},
	} {
		if err := write(*out, db.name, db.record); err != nil {
			fmt.Fprintln(os.Stderr, "geoipgen:", err)
			os.Exit(1)
		}
	}
}
