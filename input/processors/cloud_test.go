package processors

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fakeMetadata serves each provider's metadata paths with the answers of
// the providers' documentation, checking the headers each one requires.
func fakeMetadata(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	text := func(path, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) })
	}
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "no ttl", 400)
			return
		}
		w.Write([]byte("tok-123"))
	})
	mux.HandleFunc("/latest/dynamic/instance-identity/document", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-aws-ec2-metadata-token") != "tok-123" {
			http.Error(w, "IMDSv2 token required", 401)
			return
		}
		w.Write([]byte(`{"accountId":"111111111111111","architecture":"x86_64","availabilityZone":"us-east-1c","imageId":"ami-abcd1234","instanceId":"i-11111111","instanceType":"t2.medium","kernelId":null,"pendingTime":"2016-09-20T15:43:02Z","privateIp":"172.31.0.0","ramdiskId":null,"region":"us-east-1","version":"2017-09-30"}`))
	})
	mux.HandleFunc("/computeMetadata/v1/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" || r.URL.Query().Get("recursive") != "true" {
			http.Error(w, "forbidden", 403)
			return
		}
		w.Write([]byte(`{"instance":{"id":3910564293633576924,"machineType":"projects/111111111111/machineTypes/f1-micro","name":"test-gce-dev","zone":"projects/111111111111/zones/us-east1-b","hostname":"test-gce-dev.c.test-dev.internal"},"project":{"numericProjectId":111111111111,"projectId":"test-dev"}}`))
	})
	mux.HandleFunc("/metadata/instance/compute", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata") != "true" {
			http.Error(w, "Metadata header required", 400)
			return
		}
		w.Write([]byte(`{"location":"eastus2","name":"test-az-vm","offer":"UbuntuServer","osType":"Linux","platformFaultDomain":"0","platformUpdateDomain":"0","publisher":"Canonical","sku":"16.04-LTS","version":"16.04.201706191","vmId":"04ab04c3-63de-4709-a9f9-9ab8c0411d5e","vmSize":"Standard_D3_v2","subscriptionId":"5tfb04c3-63de-4709-a9f9-9ab8c0411d5e","resourceGroupName":"rg"}`))
	})
	text("/metadata/v1.json", `{"droplet_id":1111111,"hostname":"sample-droplet","vendor_data":"#cloud-config","public_keys":[],"region":"nyc3"}`)
	text("/latest/meta-data/instance-id", "i-wz9g2hqiikg0aliyun2b")
	text("/latest/meta-data/region-id", "cn-shenzhen")
	text("/latest/meta-data/zone-id", "cn-shenzhen-a")
	text("/meta-data/instance-id", "ins-qcloudv5")
	text("/meta-data/placement/region", "china-south-gz")
	text("/meta-data/placement/zone", "gz-azone2")
	text("/openstack/latest/meta_data.json", `{"random_seed":"x","uuid":"37da9890-8289-4c58-ba34-a8271c4a8216","availability_zone":"cn-southwest-2b","hostname":"ecs-ddd6","launch_index":0,"region_id":"cn-southwest-2","project_id":"c09b8baf28b845a9b53ad37e301040a8","name":"ecs-ddd6"}`)
	text("/hetzner/v1/metadata/instance-id", "111111")
	text("/hetzner/v1/metadata/hostname", "my-hetzner-instance")
	text("/hetzner/v1/metadata/availability-zone", "hel1-dc2")
	text("/hetzner/v1/metadata/region", "eu-central")
	text("/2009-04-04/meta-data/instance-id", "i-0000ffac")
	text("/2009-04-04/meta-data/hostname", "testvm01.stack.cloud")
	text("/2009-04-04/meta-data/instance-type", "m1.xlarge")
	text("/2009-04-04/meta-data/placement/availability-zone", "az-test-2")
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func withCloudBases(t *testing.T, m map[string]string) {
	old := cloudBaseOverride
	cloudBaseOverride = m
	t.Cleanup(func() { cloudBaseOverride = old })
}

func cloudResult(t *testing.T, cfg map[string]any) map[string]any {
	t.Helper()
	c, err := parseCloud(cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.wait:
	case <-time.After(5 * time.Second):
		t.Fatal("metadata fetch did not finish")
	}
	doc := map[string]any{"type": "http"}
	c.run(doc)
	return doc
}

func TestCloudProviders(t *testing.T) {
	srv := fakeMetadata(t)
	all := map[string]string{}
	for _, p := range cloudProviders {
		all[p.name] = srv.URL
	}
	withCloudBases(t, all)
	cases := map[string]map[string]any{
		"ec2": {"cloud.provider": "aws", "cloud.instance.id": "i-11111111", "cloud.machine.type": "t2.medium",
			"cloud.region": "us-east-1", "cloud.availability_zone": "us-east-1c", "cloud.account.id": "111111111111111",
			"cloud.image.id": "ami-abcd1234", "cloud.service.name": "EC2"},
		"gcp": {"cloud.provider": "gcp", "cloud.instance.id": "3910564293633576924", "cloud.instance.name": "test-gce-dev",
			"cloud.machine.type": "f1-micro", "cloud.availability_zone": "us-east1-b", "cloud.region": "us-east1",
			"cloud.project.id": "test-dev", "cloud.account.id": "test-dev", "cloud.service.name": "GCE"},
		"azure": {"cloud.provider": "azure", "cloud.instance.id": "04ab04c3-63de-4709-a9f9-9ab8c0411d5e",
			"cloud.instance.name": "test-az-vm", "cloud.machine.type": "Standard_D3_v2", "cloud.region": "eastus2",
			"cloud.account.id": "5tfb04c3-63de-4709-a9f9-9ab8c0411d5e", "cloud.service.name": "Virtual Machines"},
		"digitalocean": {"cloud.provider": "digitalocean", "cloud.instance.id": "1111111", "cloud.region": "nyc3", "cloud.service.name": "Droplets"},
		"ecs": {"cloud.provider": "alibaba", "cloud.instance.id": "i-wz9g2hqiikg0aliyun2b", "cloud.region": "cn-shenzhen",
			"cloud.availability_zone": "cn-shenzhen-a", "cloud.service.name": "ECS"},
		"qcloud": {"cloud.provider": "tencent", "cloud.instance.id": "ins-qcloudv5", "cloud.region": "china-south-gz",
			"cloud.availability_zone": "gz-azone2", "cloud.service.name": "CVM"},
		"huawei": {"cloud.provider": "huawei", "cloud.instance.id": "37da9890-8289-4c58-ba34-a8271c4a8216",
			"cloud.availability_zone": "cn-southwest-2b", "cloud.region": "cn-southwest-2"},
		"hetzner": {"cloud.provider": "hetzner", "cloud.instance.id": "111111", "cloud.instance.name": "my-hetzner-instance",
			"cloud.availability_zone": "hel1-dc2", "cloud.region": "eu-central", "cloud.service.name": "Cloud"},
		"nova": {"cloud.provider": "openstack", "cloud.instance.id": "i-0000ffac", "cloud.instance.name": "testvm01.stack.cloud",
			"cloud.machine.type": "m1.xlarge", "cloud.availability_zone": "az-test-2", "cloud.service.name": "Nova"},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			doc := cloudResult(t, map[string]any{"providers": []any{name}, "timeout": "2s"})
			wantFields(t, doc, want)
		})
	}
}

// With every provider enabled and only Azure's service present (the other
// addresses refuse), Azure's answer is used.
func TestCloudAutodetectAndOverwrite(t *testing.T) {
	srv := fakeMetadata(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	defer dead.Close()
	bases := map[string]string{}
	for _, p := range cloudProviders {
		bases[p.name] = dead.URL
	}
	bases["azure"] = srv.URL
	withCloudBases(t, bases)
	doc := cloudResult(t, map[string]any{"timeout": "2s"})
	wantFields(t, doc, map[string]any{"cloud.provider": "azure", "cloud.region": "eastus2"})

	c, _ := parseCloud(map[string]any{"providers": "azure"})
	<-c.wait
	keep := map[string]any{"cloud": map[string]any{"provider": "mine"}}
	c.run(keep)
	wantFields(t, keep, map[string]any{"cloud.provider": "mine", "cloud.region": nil})
	c, _ = parseCloud(map[string]any{"providers": "azure", "overwrite": true})
	<-c.wait
	c.run(keep)
	wantFields(t, keep, map[string]any{"cloud.provider": "azure"})
}

// Bad input: a metadata service that accepts and never answers. Events
// pass at once without cloud fields, before and after the timeout.
func TestCloudHangingEndpoint(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	bases := map[string]string{}
	for _, p := range cloudProviders {
		bases[p.name] = hang.URL
	}
	withCloudBases(t, bases)
	c := chainFromYAML(t, `
processors:
  - add_cloud_metadata: {timeout: 300ms}
  - add_tags: {tags: [next]}
`)
	start := time.Now()
	for i := 0; i < 100; i++ {
		m, err := process(t, c, `{"type":"dns"}`)
		if err != nil || m["cloud"] != nil || js(m["tags"]) != `["next"]` {
			t.Fatalf("event %d: %v %v", i, err, m)
		}
	}
	if el := time.Since(start); el > 200*time.Millisecond {
		t.Errorf("100 events took %s with a hanging metadata service", el)
	}
	time.Sleep(400 * time.Millisecond)
	m, _ := process(t, c, `{"type":"dns"}`)
	if m["cloud"] != nil {
		t.Errorf("cloud from a service that never answered: %v", m["cloud"])
	}
	wantConfigError(t, `processors: [{add_cloud_metadata: {providers: [ibm]}}]`, "(add_cloud_metadata)", `unknown provider "ibm"`)
	wantConfigError(t, `processors: [{add_cloud_metadata: {timeout: forever}}]`, "(add_cloud_metadata)", "timeout")
}
