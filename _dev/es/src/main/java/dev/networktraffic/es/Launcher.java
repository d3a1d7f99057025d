package dev.networktraffic.es;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.ingest.common.IngestCommonPlugin;
import org.opensearch.ingest.geoip.IngestGeoIpPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.script.mustache.MustachePlugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts one real OpenSearch node for the package's pipeline and mapping tests.
 *
 * <p>The distribution's modules are normally loaded from a modules/ directory by
 * the plugin service; here they come from Maven Central jars on the classpath
 * and are handed to Node's plugin-class constructor, the same way the engine's
 * own test framework embeds a node. No security manager is installed: this is a
 * throwaway test node bound to 127.0.0.1 only.
 *
 * <p>Usage: Launcher HOME [HTTP_PORT]. HOME gets config/, data/, logs/ and
 * geoip/ (where start.sh puts the test GeoLite2 databases).
 */
public final class Launcher {

    /** Node's plugin-class constructor is protected; this subclass exposes it. */
    static final class ClasspathPluginNode extends Node {
        ClasspathPluginNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    static final List<Class<? extends Plugin>> MODULES = List.of(
        Netty4Plugin.class,   // HTTP and transport
        IngestCommonPlugin.class,   // set, rename, remove, gsub, append, foreach, convert, ...
        PainlessPlugin.class,       // script processor
        MustachePlugin.class,       // {{field}} templates in set/append values
        IngestGeoIpPlugin.class,    // geoip processor
        MapperExtrasPlugin.class,   // scaled_float, token_count, ...
        GeoIpDatabasePath.class
    );

    /**
     * The geoip module reads its databases from modules/ingest-geoip/ unless the
     * raw setting ingest.geoip.database_path is present. A modules/ directory
     * would be scanned for plugin bundles, so we point the module at HOME/geoip
     * instead; the setting must be registered for the node to accept it.
     */
    public static final class GeoIpDatabasePath extends Plugin {
        static final Setting<String> SETTING =
            Setting.simpleString("ingest.geoip.database_path", Setting.Property.NodeScope);

        @Override
        public List<Setting<?>> getSettings() {
            return List.of(SETTING);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Launcher HOME [HTTP_PORT]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        String port = args.length > 1 ? args[1] : "9200";
        Path config = home.resolve("config");
        Files.createDirectories(config);
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));
        Path geoip = home.resolve("geoip");
        Files.createDirectories(geoip);

        // Cluster mode (_dev/es/start-cluster.sh): NT_ES_SEED_HOSTS set makes this
        // one node of a cluster; without it the single-node start is unchanged.
        String seeds = System.getenv("NT_ES_SEED_HOSTS");
        String nodeName = System.getenv().getOrDefault("NT_ES_NODE_NAME", "nt-node-0");
        Settings.Builder b = Settings.builder()
            .put("cluster.name", System.getenv().getOrDefault("NT_ES_CLUSTER_NAME", "network-traffic-test"))
            .put("node.name", nodeName)
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true)
            .put(GeoIpDatabasePath.SETTING.getKey(), geoip.toString());
        if (seeds == null || seeds.isEmpty()) {
            // one node: replicas could never be assigned and health would stay yellow
            b.put("transport.port", "9300-9399").put("discovery.type", "single-node");
        } else {
            b.put("transport.port", System.getenv("NT_ES_TRANSPORT_PORT"))
                .putList("discovery.seed_hosts", List.of(seeds.split(",")))
                .putList("cluster.initial_cluster_manager_nodes", List.of(System.getenv("NT_ES_INITIAL_NODES").split(",")));
        }
        Settings settings = b.build();

        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), config, () -> nodeName);
        Node node = new ClasspathPluginNode(env, MODULES);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "nt-node-shutdown"));
        node.start();
        System.out.println("network-traffic test node started on http://127.0.0.1:" + port);
        stopped.await();
    }
}
