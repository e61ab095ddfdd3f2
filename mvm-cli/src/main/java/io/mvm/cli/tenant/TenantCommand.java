package io.mvm.cli.tenant;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.ClientOptions;
import io.mvm.cli.client.Table;
import io.mvm.model.TenantId;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code mvm tenant create|list|info|destroy}. */
@Command(name = "tenant", description = "Manage tenants on the coordinator.", mixinStandardHelpOptions = true,
        subcommands = {TenantCommand.Create.class, TenantCommand.ListTenants.class, TenantCommand.Info.class,
                TenantCommand.Destroy.class})
public final class TenantCommand {

    static void printTenant(PrintWriter out, JsonNode t) {
        JsonNode q = t.get("quota");
        JsonNode u = t.get("usage");
        out.println("tenant:    " + t.get("id").asText());
        out.println("subnet:    " + t.get("subnet").asText() + " (net id " + t.get("net_id").asInt() + ", gateway "
                + t.get("gateway").asText() + ")");
        out.println("vcpus:     " + u.get("vcpus").asLong() + " / " + q.get("max_vcpus").asLong());
        out.println("memory:    " + u.get("memory_mib").asLong() + " / " + q.get("max_memory_mib").asLong() + " MiB");
        out.println("instances: " + u.get("instances").asLong() + " / " + q.get("max_instances").asLong());
        out.println("version:   " + t.get("version").asLong());
        out.flush();
    }

    @Command(name = "create", description = "Create a tenant; it gets a /24 of its own for life.")
    static final class Create implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT") String id;
        @Option(names = "--max-vcpus", paramLabel = "N", description = "vCPU quota (default 16).") Integer maxVcpus;
        @Option(names = "--max-mem", paramLabel = "MIB", description = "Memory quota in MiB (default 16384).") Long maxMem;
        @Option(names = "--max-instances", paramLabel = "N", description = "Instance quota (default 20).") Integer maxInstances;

        @Override
        public void run() {
            TenantId.of(id);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", id);
            if (maxVcpus != null) body.put("max_vcpus", maxVcpus);
            if (maxMem != null) body.put("max_memory_mib", maxMem);
            if (maxInstances != null) body.put("max_instances", maxInstances);
            JsonNode t = client.client().post("v1/tenants", body);
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, t);
            } else {
                printTenant(out, t);
            }
        }
    }

    @Command(name = "list", description = "List tenants.")
    static final class ListTenants implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;

        @Override
        public void run() {
            JsonNode list = client.client().list("v1/tenants", listing.cap());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, list);
                return;
            }
            Table table = new Table("TENANT", "SUBNET", "NET_ID", "VCPUS", "MEMORY_MIB", "INSTANCES");
            for (JsonNode t : list.get("items")) {
                JsonNode q = t.get("quota");
                JsonNode u = t.get("usage");
                table.row(t.get("id").asText(), t.get("subnet").asText(), t.get("net_id").asInt(),
                        u.get("vcpus").asLong() + "/" + q.get("max_vcpus").asLong(),
                        u.get("memory_mib").asLong() + "/" + q.get("max_memory_mib").asLong(),
                        u.get("instances").asLong() + "/" + q.get("max_instances").asLong());
            }
            table.print(out);
        }
    }

    @Command(name = "info", description = "Show a tenant: subnet, quota and usage.")
    static final class Info implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT") String id;

        @Override
        public void run() {
            JsonNode t = client.client().get("v1/tenants/" + TenantId.of(id));
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, t);
            } else {
                printTenant(out, t);
            }
        }
    }

    @Command(name = "destroy", description = "Delete a tenant (refused while it has instances unless --force).")
    static final class Destroy implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "TENANT") String id;
        @Option(names = "--force", description = "Also destroy its pools and instances.") boolean force;

        @Override
        public void run() {
            client.client().delete("v1/tenants/" + TenantId.of(id) + (force ? "?force=true" : ""));
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                out.println("{\"deleted\": \"" + id + "\"}");
            } else {
                out.println("tenant " + id + " destroyed");
            }
            out.flush();
        }
    }
}
