package io.mvm.cli;

import picocli.CommandLine;

/**
 * The list of top-level commands. One line per feature, so adding a feature touches one line here
 * and nothing else in the CLI's core.
 */
final class CommandRegistry {
    private CommandRegistry() {}

    static void register(CommandLine cli) {
        // host: bootstrap, doctor
        cli.addSubcommand(new io.mvm.cli.host.BootstrapCommand());
        cli.addSubcommand(new io.mvm.cli.host.DoctorCommand());
        // vm: local microVMs without a coordinator
        cli.addSubcommand(new io.mvm.cli.vm.VmCommand());
        // template: guest templates built on this host
        cli.addSubcommand(new io.mvm.cli.template.TemplateCommand());
        // coordinator, tenant, pool, instance, node
        cli.addSubcommand(new io.mvm.cli.coordinator.CoordinatorCommand());
        cli.addSubcommand(new io.mvm.cli.tenant.TenantCommand());
        cli.addSubcommand(new io.mvm.cli.pool.PoolCommand());
        cli.addSubcommand(new io.mvm.cli.instance.InstanceCommand());
        cli.addSubcommand(new io.mvm.cli.node.NodeCommand());
        // routes: exposed ports served by nodes (scale to zero)
        cli.addSubcommand(new io.mvm.cli.route.RouteCommand());
        // /vms jobs and the desired-VMs file
        cli.addSubcommand(new io.mvm.cli.vms.VmsCommand());
        // tenant and metrics tokens
        cli.addSubcommand(new io.mvm.cli.token.TokenCommand());
        // audit trails
        cli.addSubcommand(new io.mvm.cli.audit.AuditCommand());
        // agent, up
        cli.addSubcommand(new io.mvm.cli.agent.AgentCommand());
        cli.addSubcommand(new io.mvm.cli.up.UpCommand());
        // net
        cli.addSubcommand(new io.mvm.cli.net.NetCommand());
        // bench
        cli.addSubcommand(new io.mvm.cli.bench.BenchCommand());
    }
}
