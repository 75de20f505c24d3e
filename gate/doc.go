// Package gate decides and acts on a compatibility verdict: it hot-applies a
// new build of a shared library to the running processes that use it, or
// queues their restart in a maintenance window.
//
// The pipeline for one upgrade (see [Upgrader.Upgrade]):
//
//  1. check OLD against NEW (package compat) and read the facts the
//     hot-applicability rules need from both ELF files ([ReadFacts]);
//  2. [Decide]: hot-apply, restart, hold (incompatible: wait for an
//     operator's approval), install beside OLD (another SONAME), refuse (a
//     downgrade), or nothing to do, with every rule's outcome and the
//     deciding findings as the reason ([HotRules] lists the rules, as data);
//  3. unless held, refused or beside, install NEW at OLD's path atomically,
//     keeping the previous file as OLD.compatgate-prev for
//     [Upgrader.Rollback] ([Install]); a held upgrade is installed by its
//     queue entry, once approved ([Upgrader.InstallEntry]);
//  4. hot-apply NEW to every following process through the injection engine
//     ([Engine]), or enqueue one restart entry for them in the durable queue
//     (package gate/queue), keyed by (library, new build-id) so that the
//     same upgrade is never queued twice; without a restart action, through
//     systemd or by hand ([DefaultRestart]).
//
// Upgrades, rollbacks and installs of one library take its lock in the
// state directory, so they never interleave.
//
// State kept in the state directory, beside the queue database:
// builds/BUILD-ID/NAME, the copy of each build the engine loaded into
// processes (the dynamic linker would not load a second library from the
// path it loaded the first from) or a held entry will install;
// releases/SUB/, verified copies of releases and the markers of releases
// handled; locks/, the libraries' and serve's lock files.
//
// Releases reach the gate through [Intake], the security boundary that
// admits a file only with a matching SHA-256 (and, when configured, an
// ed25519 signature and a [Manifest]), from files and directories only root
// or a trusted owner can write, and through [Server], which watches the
// release directories of the subscriptions in a [Config] file.
package gate
