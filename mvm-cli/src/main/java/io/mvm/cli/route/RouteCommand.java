package io.mvm.cli.route;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.ClientOptions;
import io.mvm.cli.client.Table;
import io.mvm.model.TenantId;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mvm route list}: the routes nodes serve (exposed ports, issue 13). */
@Command(name = "route", description = "Routes: ports of instances that nodes proxy (and wake on connect).",
        mixinStandardHelpOptions = true, subcommands = {RouteCommand.ListRoutes.class})
public final class RouteCommand {

    @Command(name = "list", description = "List routes: instance, node, the host port its node listens on, and where"
            + " it forwards (tenant address and guest port).")
    static final class ListRoutes implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;

        @Option(names = "--tenant", description = "Only this tenant's routes.")
        String tenant;

        @Override
        public void run() {
            String path = "v1/routes" + (tenant == null ? "" : "?tenant=" + TenantId.of(tenant));
            JsonNode list = client.client().list(path, listing.cap());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, list);
                return;
            }
            Table table = new Table("INSTANCE", "TENANT", "POOL", "NODE", "STATE", "HOST PORT", "TARGET", "PROTO");
            for (JsonNode r : list.get("items")) {
                String state = r.get("state").asText();
                if (r.get("desired_state").asText().equals("running") && !state.equals("running")) {
                    state = state + " (wakes on connect)";
                }
                table.row(r.get("instance").asText(), r.get("tenant").asText(), r.get("pool").asText(),
                        r.get("node").isNull() ? "-" : r.get("node").asText(), state,
                        r.get("host_port").isNull() ? "unbound: " + r.path("error").asText() : r.get("host_port").asText(),
                        r.get("target").asText(), r.get("protocol").asText());
            }
            table.print(out);
            out.flush();
        }
    }
}
