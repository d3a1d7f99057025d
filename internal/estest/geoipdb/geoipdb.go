// Package geoipdb writes small GeoLite2-City, GeoLite2-Country and GeoLite2-ASN format
// databases for the pipeline tests (see _dev/es/geoipgen, which start.sh runs).
//
// The engine's geoip processor refuses to start without all three files, and
// the real databases cannot be fetched here (nor shipped: their licence forbids
// it). These hold a handful of documentation/test networks whose values are
// our own, modelled on the record layout of MaxMind's public test databases,
// so the geoip pipeline's output can be asserted exactly.
//
// It lives outside _dev/ so `go mod tidy` sees the mmdbwriter dependency.
package geoipdb

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Place is one test network's location and owner.
type Place struct {
	CIDR          string
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

// Places are the networks in the databases; _dev/es/README.md lists them too.
var Places = []Place{
	{CIDR: "89.160.20.128/25", city: "Linköping", cityID: 2694762, subdivISO: "E", subdivName: "Östergötland County",
		countryISO: "SE", countryName: "Sweden", countryID: 2661886, continentCode: "EU", continentName: "Europe", continentID: 6255148,
		lat: 58.4167, lon: 15.6167, timeZone: "Europe/Stockholm", asn: 29518, asOrg: "Bredband2 AB"},
	{CIDR: "216.160.83.56/29", city: "Milton", cityID: 5803556, subdivISO: "WA", subdivName: "Washington",
		countryISO: "US", countryName: "United States", countryID: 6252001, continentCode: "NA", continentName: "North America", continentID: 6255149,
		lat: 47.2513, lon: -122.3149, timeZone: "America/Los_Angeles", asn: 209, asOrg: "Qwest Communications Company, LLC"},
	{CIDR: "175.16.199.0/24", city: "Changchun", cityID: 2038180, subdivISO: "22", subdivName: "Jilin Sheng",
		countryISO: "CN", countryName: "China", countryID: 1814991, continentCode: "AS", continentName: "Asia", continentID: 6255147,
		lat: 43.88, lon: 125.3228, timeZone: "Asia/Harbin", asn: 4837, asOrg: "CHINA UNICOM China169 Backbone"},
	{CIDR: "2a02:cf40::/29", city: "Amsterdam", cityID: 2759794, subdivISO: "NH", subdivName: "North Holland",
		countryISO: "NL", countryName: "Netherlands", countryID: 2750405, continentCode: "EU", continentName: "Europe", continentID: 6255148,
		lat: 52.3759, lon: 4.8975, timeZone: "Europe/Amsterdam", asn: 1136, asOrg: "KPN B.V."},
}

func names(en string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(en)} }

func (p Place) continent() mmdbtype.Map {
	return mmdbtype.Map{"code": mmdbtype.String(p.continentCode), "geoname_id": mmdbtype.Uint32(p.continentID), "names": names(p.continentName)}
}

func (p Place) country() mmdbtype.Map {
	return mmdbtype.Map{"geoname_id": mmdbtype.Uint32(p.countryID), "iso_code": mmdbtype.String(p.countryISO), "names": names(p.countryName)}
}

func (p Place) countryRecord() mmdbtype.Map {
	return mmdbtype.Map{"continent": p.continent(), "country": p.country(), "registered_country": p.country()}
}

func (p Place) cityRecord() mmdbtype.Map {
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

func (p Place) asnRecord() mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(p.asn),
		"autonomous_system_organization": mmdbtype.String(p.asOrg),
	}
}

func write(dir, dbType string, record func(Place) mmdbtype.Map) error {
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
	for _, p := range Places {
		_, network, err := net.ParseCIDR(p.CIDR)
		if err != nil {
			return fmt.Errorf("%s: %w", p.CIDR, err)
		}
		if err := tree.Insert(network, record(p)); err != nil {
			return fmt.Errorf("%s %s: %w", dbType, p.CIDR, err)
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

// Databases are the files WriteAll writes, as the engine's geoip module expects them.
var Databases = []string{"GeoLite2-City", "GeoLite2-Country", "GeoLite2-ASN"}

// WriteAll writes GeoLite2-{City,Country,ASN}.mmdb into dir.
func WriteAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	records := map[string]func(Place) mmdbtype.Map{
		"GeoLite2-City":    Place.cityRecord,
		"GeoLite2-Country": Place.countryRecord,
		"GeoLite2-ASN":     Place.asnRecord,
	}
	for _, db := range Databases {
		if err := write(dir, db, records[db]); err != nil {
			return err
		}
	}
	return nil
}
