//! What a migration instance's provision.sh writes to its cloud-init output: the lines
//! `watch-migration` follows, ending in the success marker from the settings, or in the
//! lifecycle ABANDON a failed provision sends.

/// The lines before the outcome.
const STEPS: &[&str] = &[
    "Cloud-init v. 23.1.2 running 'modules:final'",
    "provision.sh: running identity-devops-private",
    "All done! provision.sh finished for identity-devops-private",
    "Starting Chef Infra Client, version 18.2.7",
    "Recipe: login_dot_gov::migrate",
    "  * execute[rake db:create db:migrate] action run",
    "== 20261120182233 AddLinkedAccountsTable: migrating ============================",
    "-- create_table(:linked_accounts)",
    "== 20261120182233 AddLinkedAccountsTable: migrated (0.0123s) ===================",
    "    - execute bundle exec rake db:create db:migrate",
];

/// How the provision ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Abandoned,
}

/// Every line of one provision, the outcome's lines last.
pub fn lines(success_marker: &str, instance: &str, group: &str, outcome: Outcome) -> Vec<String> {
    let mut lines: Vec<String> = STEPS.iter().map(|s| s.to_string()).collect();
    match outcome {
        Outcome::Abandoned => lines.extend([
            "    ================================================================================"
                .to_string(),
            "    Error executing action `run` on resource 'execute[rake db:create db:migrate]'"
                .to_string(),
            format!(
                "Instance {instance} for ASG {group} was ABANDONED.  Fatal error in provisioning."
            ),
        ]),
        Outcome::Success => lines.extend([
            "Chef Infra Client finished, 212/498 resources updated in 04 minutes 12 seconds"
                .to_string(),
            "lifecycle hook: CONTINUE".to_string(),
            success_marker.to_string(),
        ]),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::markers::{LineKind, Markers};

    #[test]
    fn the_outcome_is_what_watch_migration_reads() {
        let m = Markers::new("All done!", vec!["ABANDON".into()]);
        let ok = lines("All done!", "i-1", "prod-migration", Outcome::Success);
        assert_eq!(m.classify(ok.last().unwrap()), LineKind::Success);
        assert!(ok[..ok.len() - 1]
            .iter()
            .all(|l| !matches!(m.classify(l), LineKind::Success | LineKind::Failure(_))));
        let bad = lines("All done!", "i-1", "prod-migration", Outcome::Abandoned);
        assert!(matches!(
            m.classify(bad.last().unwrap()),
            LineKind::Failure(_)
        ));
        assert!(bad.iter().all(|l| m.classify(l) != LineKind::Success));
    }
}
