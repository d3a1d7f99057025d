package dev.networktraffic.kafka;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Formats the KRaft log directory and starts the broker in the same JVM:
 * one JVM start instead of two (kafka-storage.sh, then kafka-server-start.sh),
 * which is most of the test broker's startup time on a small machine.
 *
 * <p>Arguments: {@code <server.properties> <cluster-id> [extra format arguments, e.g. --add-scram ...]}.
 */
public final class Launcher {
  private Launcher() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: Launcher <server.properties> <cluster-id> [format args...]");
      System.exit(2);
    }
    List<String> format = new ArrayList<>(List.of("format", "-t", args[1], "-c", args[0]));
    format.addAll(Arrays.asList(args).subList(2, args.length));
    long t0 = System.nanoTime();
    int rc = kafka.tools.StorageTool.execute(format.toArray(new String[0]), System.out);
    if (rc != 0) {
      System.err.println("formatting the log directory failed: " + rc);
      System.exit(rc);
    }
    System.out.printf("launcher: formatted in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    kafka.Kafka.main(new String[] {args[0]});
  }
}
