package io.mvm.cli.pool;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.ClientOptions;
import io.mvm.cli.client.Table;
import io.mvm.model.MvmException;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code mvm pool create|list|info|set|scale|destroy}. */
@Command(name = "pool", description = "Manage pools of instances.", mixinStandardHelpOptions = true,
        subcommands = {PoolCommand.Create.class, PoolCommand.ListPools.class, PoolCommand.Info.class,
                PoolCommand.SetPool.class, PoolCommand.Scale.class, PoolCommand.Destroy.class,
                PoolCommand.SetTemplate.class, PoolCommand.Rollout.class, PoolCommand.Rollback.class})
public final class PoolCommand {

    static String path(PoolRef ref) {
        return "v1/tenants/" + ref.tenant() + "/pools/" + ref.name();
    }

    static void printPool(PrintWriter out, JsonNode p) {
        JsonNode d = p.get("desired");
        JsonNode drives = p.get("drives");
        out.println("pool:      " + p.get("tenant").asText() + "/" + p.get("name").asText());
        out.println("role:      " + p.get("role").asText() + " (priority " + p.get("role_priority").asInt() + ")");
        out.println("profile:   " + p.get("profile").asText() + "  flake: " + p.get("flake").asText()
                + "  template: " + (p.get("template").isNull() ? "-" : p.get("template").asText()));
        out.println("resources: " + p.get("vcpus").asInt() + " vCPU, " + p.get("memory_mib").asLong() + " MiB, data disk "
                + p.get("data_disk_mib").asLong() + " MiB");
        out.println("drives:    rootfs, data" + (drives.get("secrets").asBoolean() ? ", secrets" : "")
                + (drives.get("config").asBoolean() ? ", config" : ""));
        out.println("desired:   running " + d.get("running").asInt() + ", warm " + d.get("warm").asInt() + ", sleeping "
                + d.get("sleeping").asInt() + ", stopped " + d.get("stopped").asInt());
        if (p.hasNonNull("cmd") && !p.get("cmd").isEmpty()) {
            out.println("cmd:       " + p.get("cmd"));
        }
        if (p.hasNonNull("secret_names") && !p.get("secret_names").isEmpty()) {
            out.println("secrets:   " + p.get("secret_names") + " (values are write-only)");
        }
        if (p.hasNonNull("on_node_lost")) {
            out.println("node lost: " + p.get("on_node_lost").asText());
        }
        if (p.hasNonNull("ports") && !p.get("ports").isEmpty()) {
            var ports = new java.util.ArrayList<String>();
            p.get("ports").forEach(x -> ports.add(x.get("guest").asInt() + ":" + (x.get("host").asInt() == 0 ? "any"
                    : x.get("host").asText()) + "/" + x.get("protocol").asText()));
            out.println("ports:     " + String.join(", ", ports) + " (guest:host; see 'mvm route list')");
        }
        if (p.hasNonNull("idle")) {
            JsonNode i = p.get("idle");
            out.println("idle:      warm after " + i.get("warm_after").asText() + ", sleep after "
                    + i.get("sleep_after").asText() + ", min runtime " + i.get("min_runtime").asText()
                    + ", cpu threshold " + i.get("cpu_threshold").asDouble());
        }
        if (p.hasNonNull("available")) {
            out.println("available: " + p.get("available").get("running").asInt() + " running, "
                    + p.get("available").get("idled").asInt() + " idled (warm or sleeping, woken on connect)");
        }
        out.println("revision:  " + p.get("revision").asLong() + "  version: " + p.get("version").asLong());
        out.flush();
    }

    static final String PORT = "Expose a guest TCP port through the node's proxy: GUEST or GUEST:HOST (host 0 or"
            + " absent: any free port; repeatable).";
    static final String IDLE = "Idle policy (repeatable KEY=VALUE): warm_after=60s, sleep_after=15m, min_runtime=30s,"
            + " cpu_threshold=0.05; absent keys take these defaults.";

    /** {@code 8080} or {@code 8080:18080} → a port body. */
    static List<Map<String, Object>> ports(List<String> specs) {
        var out = new java.util.ArrayList<Map<String, Object>>();
        for (String spec : specs) {
            String[] parts = spec.split(":", 2);
            try {
                Map<String, Object> port = new LinkedHashMap<>();
                port.put("guest", Integer.parseInt(parts[0].strip()));
                port.put("host", parts.length == 2 ? Integer.parseInt(parts[1].strip()) : 0);
                port.put("protocol", "tcp");
                out.add(port);
            } catch (NumberFormatException e) {
                throw MvmException.invalid("--port '" + spec + "' must be GUEST or GUEST:HOST, e.g. 8080 or 8080:18080");
            }
        }
        return out;
    }

    /** KEY=VALUE pairs → an idle body (the coordinator checks the values). */
    static Map<String, Object> idle(Map<String, String> pairs) {
        Map<String, Object> out = new LinkedHashMap<>();
        pairs.forEach((k, v) -> {
            switch (k) {
                case "warm_after", "sleep_after", "min_runtime" -> out.put(k, v);
                case "cpu_threshold" -> {
                    try {
                        out.put(k, Double.parseDouble(v));
                    } catch (NumberFormatException e) {
                        throw MvmException.invalid("--idle cpu_threshold must be a number such as 0.05, got '" + v + "'");
                    }
                }
                default -> throw MvmException.invalid("--idle knows warm_after, sleep_after, min_runtime and"
                        + " cpu_threshold, not '" + k + "'");
            }
        });
        if (out.isEmpty()) {
            out.put("warm_after", "60s"); // an explicit policy with defaults, not "remove"
        }
        return out;
    }

    private static void show(ClientOptions client, CommandSpec spec, JsonNode p) {
        PrintWriter out = spec.commandLine().getOut();
        if (client.json) {
            ClientOptions.printJson(out, p);
        } else {
            printPool(out, p);
        }
    }

    @Command(name = "create", description = "Create a pool (role defaults to worker; roles cannot change later).")
    static final class Create implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT/POOL") String ref;
        @Option(names = "--flake", required = true, paramLabel = "REF", description = "Flake reference of the guest image.") String flake;
        @Option(names = "--profile", required = true, paramLabel = "NAME", description = "Guest profile.") String profile;
        @Option(names = "--role", paramLabel = "ROLE", defaultValue = "worker",
                description = "gateway, builder, worker or capability-imessage (default: ${DEFAULT-VALUE}).") String role;
        @Option(names = "--cpus", required = true, paramLabel = "N", description = "vCPUs per instance.") int cpus;
        @Option(names = "--mem", required = true, paramLabel = "MIB", description = "Memory per instance in MiB.") long mem;
        @Option(names = "--data-disk", paramLabel = "MIB", description = "Data disk per instance in MiB (default 1024).") Long dataDisk;
        @Option(names = "--template", paramLabel = "NAME", description = "Template to start instances from.") String template;
        @Option(names = "--on-node-lost", paramLabel = "RULE", description = ON_NODE_LOST) String onNodeLost;
        @Option(names = "--running", paramLabel = "N", description = "Instances to keep running (default 0).") Integer running;
        @Option(names = "--warm", paramLabel = "N", description = "Instances to keep warm (default 0).") Integer warm;
        @Option(names = "--sleeping", paramLabel = "N", description = "Instances to keep sleeping (default 0).") Integer sleeping;
        @Option(names = "--cmd", paramLabel = "ARG",
                description = "The guest command, one argument per --cmd (repeat in order).") List<String> cmd;
        @Option(names = "--env", paramLabel = "NAME=VALUE", description = "Environment for the guest command (repeatable).")
        Map<String, String> env;
        @Option(names = "--secret-file", paramLabel = "NAME=PATH",
                description = "A secret for the secrets drive, read from PATH (repeatable; values never shown again).")
        Map<String, Path> secretFiles;
        @Option(names = "--port", paramLabel = "GUEST[:HOST]", description = PORT) List<String> ports;
        @Option(names = "--idle", paramLabel = "KEY=VALUE", description = IDLE) Map<String, String> idle;
        @Option(names = "--config-file", paramLabel = "NAME=PATH",
                description = "A file for the config drive (gateways), read from PATH (repeatable).")
        Map<String, Path> configFiles;

        @Override
        public void run() {
            PoolRef pool = PoolRef.parse(ref);
            Role.parse(role);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("name", pool.name().value());
            body.put("role", role);
            body.put("profile", profile);
            body.put("flake", flake);
            body.put("vcpus", cpus);
            body.put("memory_mib", mem);
            if (dataDisk != null) body.put("data_disk_mib", dataDisk);
            if (template != null) body.put("template", template);
            if (onNodeLost != null) body.put("on_node_lost", onNodeLost);
            if (running != null) body.put("running", running);
            if (warm != null) body.put("warm", warm);
            if (sleeping != null) body.put("sleeping", sleeping);
            if (cmd != null) body.put("cmd", cmd);
            if (env != null) body.put("env", env);
            if (secretFiles != null) body.put("secrets", io.mvm.cli.SecretInputs.readFiles(secretFiles));
            if (configFiles != null) body.put("config_files", io.mvm.cli.SecretInputs.readFiles(configFiles));
            if (ports != null) body.put("ports", ports(ports));
            if (idle != null) body.put("idle", idle(idle));
            show(client, spec, client.client().post("v1/tenants/" + pool.tenant() + "/pools", body));
        }
    }

    @Command(name = "list", description = "List a tenant's pools.")
    static final class ListPools implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;
        @Parameters(paramLabel = "TENANT") String tenant;

        @Override
        public void run() {
            JsonNode list = client.client().list("v1/tenants/" + TenantId.of(tenant) + "/pools", listing.cap());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, list);
                return;
            }
            Table table = new Table("POOL", "ROLE", "PROFILE", "VCPUS", "MEMORY_MIB", "RUNNING", "WARM", "SLEEPING", "STOPPED",
                    "AVAILABLE");
            for (JsonNode p : list.get("items")) {
                JsonNode d = p.get("desired");
                JsonNode a = p.path("available");
                table.row(p.get("name").asText(), p.get("role").asText(), p.get("profile").asText(), p.get("vcpus").asInt(),
                        p.get("memory_mib").asLong(), d.get("running").asInt(), d.get("warm").asInt(),
                        d.get("sleeping").asInt(), d.get("stopped").asInt(),
                        a.path("running").asInt() + " running, " + a.path("idled").asInt() + " idled");
            }
            table.print(out);
        }
    }

    @Command(name = "info", description = "Show a pool.")
    static final class Info implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT/POOL") String ref;

        @Override
        public void run() {
            show(client, spec, client.client().get(path(PoolRef.parse(ref))));
        }
    }

    static final String ON_NODE_LOST = "What instances do on a node that stays lost past its grace period: wait"
            + " (their data is there), recreate (elsewhere, without data) or auto (wait when an instance has a data"
            + " disk or a sleeping snapshot; the default).";

    @Command(name = "set", description = "Change a pool's settings.")
    static final class SetPool implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT/POOL") String ref;
        @Option(names = "--on-node-lost", paramLabel = "RULE", description = ON_NODE_LOST)
        String onNodeLost;
        @Option(names = "--port", paramLabel = "GUEST[:HOST]", description = PORT + " Replaces the pool's ports.")
        List<String> ports;
        @Option(names = "--no-ports", description = "Remove the pool's ports (and so its routes).") boolean noPorts;
        @Option(names = "--idle", paramLabel = "KEY=VALUE", description = IDLE + " Replaces the policy; agents follow"
                + " without restarts.") Map<String, String> idle;
        @Option(names = "--no-idle", description = "Remove the idle policy (idled instances are woken).") boolean noIdle;

        @Override
        public void run() {
            Map<String, Object> body = new LinkedHashMap<>();
            if (onNodeLost != null) body.put("on_node_lost", onNodeLost);
            if (ports != null) body.put("ports", ports(ports));
            if (noPorts) body.put("ports", List.of());
            if (idle != null) body.put("idle", idle(idle));
            if (noIdle) body.put("idle", Map.of());
            if (body.isEmpty()) {
                throw MvmException.invalid("nothing to set: give --on-node-lost, --port, --no-ports, --idle or --no-idle");
            }
            show(client, spec, client.client().patch(path(PoolRef.parse(ref)), body));
        }
    }

    @Command(name = "scale", description = "Set how many instances should be running, warm and sleeping.")
    static final class Scale implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT/POOL") String ref;
        @Option(names = "--running", paramLabel = "N") Integer running;
        @Option(names = "--warm", paramLabel = "N") Integer warm;
        @Option(names = "--sleeping", paramLabel = "N") Integer sleeping;

        @Override
        public void run() {
            PoolRef pool = PoolRef.parse(ref);
            if (running == null && warm == null && sleeping == null) {
                throw MvmException.invalid("nothing to scale: give --running, --warm and/or --sleeping");
            }
            Map<String, Object> body = new LinkedHashMap<>();
            if (running != null) body.put("running", running);
            if (warm != null) body.put("warm", warm);
            if (sleeping != null) body.put("sleeping", sleeping);
            show(client, spec, client.client().patch(path(pool), body));
        }
    }

    static void showRollout(ClientOptions client, CommandSpec spec, JsonNode r) {
        PrintWriter out = spec.commandLine().getOut();
        if (client.json) {
            ClientOptions.printJson(out, r);
            return;
        }
        out.println("pool:      " + r.get("tenant").asText() + "/" + r.get("pool").asText() + "  template: "
                + text(r.get("template")));
        out.println("status:    " + r.get("status").asText() + (r.hasNonNull("reason") ? " - " + r.get("reason").asText() : ""));
        out.println("target:    " + text(r.get("target_revision")) + (r.get("follows_current").asBoolean()
                ? " (the template's current revision)" : " (pinned)"));
        out.println("previous:  " + text(r.get("previous_revision")) + "  (mvm pool rollback returns here)");
        out.println("progress:  " + r.get("on_target").asInt() + "/" + r.get("total").asInt() + " on target, "
                + r.get("old").asInt() + " old, " + r.get("pending").size() + " pending " + r.get("pending")
                + ", " + r.get("replaced").asInt() + " replaced; max_unavailable " + r.get("max_unavailable").asInt());
        out.flush();
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() ? "-" : n.asText();
    }

    @Command(name = "set-template", description = {"Boot a pool from TEMPLATE (at revision REV, else its current one);",
        "its instances are replaced rolling, at most --max-unavailable at a time, each healthy before the next."})
    static final class SetTemplate implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(index = "0", paramLabel = "TENANT/POOL") String ref;
        @Parameters(index = "1", paramLabel = "TEMPLATE[@REV]") String target;
        @Option(names = "--max-unavailable", paramLabel = "N", description = "Replacements pending at once (default 1).")
        Integer maxUnavailable;

        @Override
        public void run() {
            PoolRef pool = PoolRef.parse(ref);
            int at = target.indexOf('@');
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("template", at < 0 ? target : target.substring(0, at));
            if (at >= 0) body.put("revision", target.substring(at + 1));
            if (maxUnavailable != null) body.put("max_unavailable", maxUnavailable);
            showRollout(client, spec, client.client().send("PUT", path(pool) + "/rollout", body));
        }
    }

    @Command(name = "rollout", description = "Show a pool's rollout: target and previous revision, status and progress.")
    static final class Rollout implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT/POOL") String ref;

        @Override
        public void run() {
            showRollout(client, spec, client.client().get(path(PoolRef.parse(ref)) + "/rollout"));
        }
    }

    @Command(name = "rollback", description = "Return a pool to the revision its last rollout started from (rolling).")
    static final class Rollback implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT/POOL") String ref;

        @Override
        public void run() {
            showRollout(client, spec, client.client().post(path(PoolRef.parse(ref)) + "/rollback", Map.of()));
        }
    }

    @Command(name = "destroy", description = "Delete a pool and its instances.")
    static final class Destroy implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT/POOL") String ref;

        @Override
        public void run() {
            PoolRef pool = PoolRef.parse(ref);
            client.client().delete(path(pool));
            PrintWriter out = spec.commandLine().getOut();
            out.println(client.json ? "{\"deleted\": \"" + pool + "\"}" : "pool " + pool + " destroyed");
            out.flush();
        }
    }
}
