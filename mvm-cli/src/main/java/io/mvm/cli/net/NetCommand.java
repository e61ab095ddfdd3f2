package io.mvm.cli.net;

import picocli.CommandLine.Command;

/** {@code mvm net}: the host side of tenant networking. */
@Command(name = "net", mixinStandardHelpOptions = true,
        description = "Tenant networking on this host: bridges, taps and mvm's nftables tables.",
        subcommands = {NetVerifyCommand.class, NetApplyCommand.class, NetRemoveCommand.class})
public final class NetCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
