package io.mvm.cli.bench.fleet;

/**
 * The faults a seed can inject. Each names what it does to the fleet so a failing seed's log
 * reads as a story. Faults that need a second coordinator (leader change) or a database proxy
 * (connection loss) are not here yet: they would be further cases of this sealed type, injected
 * by {@link FleetSimulation#inject} like the others.
 */
sealed interface Fault {
    /** The agent process dies; its VMs and outbox survive; it comes back after {@code rounds} and registers again. */
    record AgentCrash(int agent, int rounds) implements Fault {}

    /** The agent cannot reach the coordinator for {@code rounds}, then can again; it keeps running its VMs. */
    record AgentPartition(int agent, int rounds) implements Fault {}

    /** The agent answers only every {@code every}-th round for {@code rounds}. */
    record SlowAgent(int agent, int every, int rounds) implements Fault {}

    /** The in-JVM coordinator is stopped at once (no drain) and started again on the same database and port. */
    record CoordinatorRestart() implements Fault {}

    /** Not a fault but intent arriving during faults: a pool's running count changes (acknowledged writes are checked later). */
    record Scale(int pool, int running) implements Fault {}
}
