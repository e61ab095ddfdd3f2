package io.mvm.cli.instance;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.ClientOptions;
import io.mvm.cli.client.Table;
import io.mvm.core.lifecycle.InstanceAction;
import io.mvm.model.InstanceId;
import io.mvm.model.TenantId;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code mvm instance list|info|start|stop|warm|sleep|wake|destroy|exec|logs}. */
@Command(name = "instance", description = "Inspect instances and change what one should be doing.",
        mixinStandardHelpOptions = true,
        subcommands = {InstanceCommand.ListInstances.class, InstanceCommand.Info.class, InstanceCommand.Start.class,
                InstanceCommand.Stop.class, InstanceCommand.Warm.class, InstanceCommand.Sleep.class,
                InstanceCommand.Wake.class, InstanceCommand.Destroy.class, InstanceCommand.Evacuate.class, InstanceExec.class, InstanceLogs.class})
public final class InstanceCommand {

    static void printInstance(PrintWriter out, JsonNode i) {
        out.println("instance: " + i.get("id").asText());
        out.println("pool:     " + i.get("tenant").asText() + "/" + i.get("pool").asText());
        out.println("desired:  " + i.get("desired_state").asText());
        out.println("state:    " + i.get("state").asText());
        out.println("node:     " + (i.get("node").isNull() ? "-" : i.get("node").asText()));
        out.println("ip:       " + i.get("ip").asText());
        out.println("revision: " + i.get("revision").asLong() + "  version: " + i.get("version").asLong());
        if (!i.get("last_error").isNull()) {
            out.println("error:    " + i.get("last_error").asText());
        }
        if (i.hasNonNull("pending_reason")) {
            out.println("waiting:  " + i.get("pending_reason").asText());
        }
        if (i.hasNonNull("pid")) {
            out.println("pid:      " + i.get("pid").asLong() + (i.hasNonNull("accelerator")
                    ? "  accelerator: " + i.get("accelerator").asText() : ""));
        }
        out.flush();
    }

    static void printEvents(PrintWriter out, JsonNode events) {
        if (events == null || events.get("items").isEmpty()) {
            out.println("events:   -");
        } else {
            out.println("events:");
            for (JsonNode e : events.get("items")) {
                out.println("  " + e.get("time").asText() + "  " + e.get("type").asText()
                        + (e.hasNonNull("message") ? "  " + e.get("message").asText() : ""));
            }
        }
        out.flush();
    }

    @Command(name = "list", description = "List a tenant's instances.")
    static final class ListInstances implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;
        @Parameters(paramLabel = "TENANT") String tenant;

        @picocli.CommandLine.Option(names = "--pool", paramLabel = "POOL", description = "Only this pool's instances.")
        String pool;

        @picocli.CommandLine.Option(names = "--state", paramLabel = "STATE",
                description = "Only instances in this observed state (running, stopped, pending, ...).")
        String state;

        @picocli.CommandLine.Option(names = "--node", paramLabel = "NODE", description = "Only instances on this node.")
        String node;

        private String filterQuery() {
            StringBuilder q = new StringBuilder();
            java.util.Map<String, String> f = new java.util.LinkedHashMap<>();
            f.put("pool", pool);
            f.put("state", state);
            f.put("node", node);
            f.forEach((k, v) -> {
                if (v != null) {
                    q.append(q.isEmpty() ? "?" : "&").append(k).append('=')
                            .append(java.net.URLEncoder.encode(v, java.nio.charset.StandardCharsets.UTF_8));
                }
            });
            return q.toString();
        }

        @Override
        public void run() {
            JsonNode list = client.client().list("v1/tenants/" + TenantId.of(tenant) + "/instances" + filterQuery(), listing.cap());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, list);
                return;
            }
            Table table = new Table("INSTANCE", "POOL", "DESIRED", "STATE", "NODE", "IP", "TEMPLATE", "REVISION");
            for (JsonNode i : list.get("items")) {
                table.row(i.get("id").asText(), i.get("pool").asText(), i.get("desired_state").asText(),
                        i.get("state").asText(), i.get("node").isNull() ? "-" : i.get("node").asText(), i.get("ip").asText(),
                        text(i.get("template")), revision(i));
            }
            table.print(out);
        }
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() ? "-" : n.asText();
    }

    /** The revision its node booted (short), marked when it is not the one it is told to boot. */
    static String revision(JsonNode i) {
        String booted = text(i.get("booted_revision"));
        String assigned = text(i.get("template_revision"));
        String shown = !booted.equals("-") ? booted : assigned;
        String small = shown.length() > 12 ? shown.substring(0, 12) : shown;
        return !booted.equals("-") && !assigned.equals("-") && !booted.equals(assigned) ? small + " (-> "
                + assigned.substring(0, Math.min(12, assigned.length())) + ")" : small;
    }

    @Command(name = "info", description = "Show an instance.")
    static final class Info implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "ID") String id;

        @Override
        public void run() {
            var coordinator = client.client();
            JsonNode instance = coordinator.get("v1/instances/" + InstanceId.of(id));
            show(client, spec, instance);
            if (!client.json) {
                printEvents(spec.commandLine().getOut(), coordinator.get("v1/instances/" + InstanceId.of(id)
                        + "/events?limit=10"));
            }
        }
    }

    abstract static class ActionCommand implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "ID") String id;

        abstract InstanceAction action();

        @Override
        public void run() {
            show(client, spec, client.client().post("v1/instances/" + InstanceId.of(id) + "/" + action().wireName(), null));
        }
    }

    @Command(name = "start", description = "Start a stopped instance.")
    static final class Start extends ActionCommand {
        @Override
        InstanceAction action() {
            return InstanceAction.START;
        }
    }

    @Command(name = "stop", description = "Stop an instance (kept, with its data drive; not counted as running/warm/sleeping).")
    static final class Stop extends ActionCommand {
        @Override
        InstanceAction action() {
            return InstanceAction.STOP;
        }
    }

    @Command(name = "warm", description = "Pause a running instance in memory.")
    static final class Warm extends ActionCommand {
        @Override
        InstanceAction action() {
            return InstanceAction.WARM;
        }
    }

    @Command(name = "sleep", description = "Snapshot a running or warm instance to disk.")
    static final class Sleep extends ActionCommand {
        @Override
        InstanceAction action() {
            return InstanceAction.SLEEP;
        }
    }

    @Command(name = "wake", description = "Resume a warm or sleeping instance.")
    static final class Wake extends ActionCommand {
        @Override
        InstanceAction action() {
            return InstanceAction.WAKE;
        }
    }

    @Command(name = "evacuate", description = {
            "Recreate an instance that sits on a lost node on another node now.",
            "It starts there without its data disk and snapshot: they stay on the lost node, whose agent keeps them"
                    + " aside under <data-dir>/orphans/ when it returns."})
    static final class Evacuate implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "ID") String id;

        @Override
        public void run() {
            show(client, spec, client.client().post("v1/instances/" + InstanceId.of(id) + "/evacuate", null));
        }
    }

    @Command(name = "destroy", description = "Destroy an instance and take it out of its pool's counts.")
    static final class Destroy implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "ID") String id;

        @Override
        public void run() {
            JsonNode left = client.client().delete("v1/instances/" + InstanceId.of(id));
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                if (left.isNull()) {
                    out.println("{\"deleted\": \"" + id + "\"}");
                } else {
                    ClientOptions.printJson(out, left);
                }
            } else {
                out.println(left.isNull() ? "instance " + id + " destroyed"
                        : "instance " + id + " marked destroyed; its node will remove it");
            }
            out.flush();
        }
    }

    private static void show(ClientOptions client, CommandSpec spec, JsonNode i) {
        PrintWriter out = spec.commandLine().getOut();
        if (client.json) {
            ClientOptions.printJson(out, i);
        } else {
            printInstance(out, i);
        }
    }
}
