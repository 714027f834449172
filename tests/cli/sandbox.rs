//! Tests of the emulator fixture and the sandbox's fleet seeding.

use login_release::aws::fleet::RECYCLE_ONCE;
use login_release::sandbox::seed::FleetSpec;

use crate::support::moto::Moto;

#[test]
fn seeded_prod_fleet_has_the_runbook_shape() {
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
    let groups = moto.block_on(moto.aws.groups_with_prefix("prod-")).unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        ["prod-idp", "prod-migration", "prod-pivcac", "prod-worker"]
    );
    let idp = &groups[0];
    assert_eq!(idp.desired, 4);
    assert_eq!(idp.instances.len(), 4);
    assert!(idp
        .instances
        .iter()
        .all(|i| i.protected && i.in_service_and_healthy()));
    assert_eq!(idp.termination_policies, ["OldestInstance"]);
    assert!(groups[1].has_tag("utility"));
    let ids: Vec<String> = idp.instances.iter().map(|i| i.id.clone()).collect();
    let instances = moto.block_on(moto.aws.describe_instances(&ids)).unwrap();
    assert_eq!(instances.len(), 4);
    assert!(instances
        .iter()
        .all(|i| i.name.as_deref() == Some("asg-prod-idp")));
    assert!(instances
        .iter()
        .all(|i| i.group.as_deref() == Some("prod-idp")));
    assert!(instances
        .iter()
        .all(|i| i.tags.get("gitsha:idp").map(String::len) == Some(40)));
}

#[test]
fn scheduled_actions_are_kept_per_group() {
    // The launcher's shim: AWS keeps scheduled actions per group; moto 5.2 does not.
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
    let put = |group: &str, desired: i32| {
        moto.block_on(
            moto.aws
                .autoscaling
                .put_scheduled_update_group_action()
                .auto_scaling_group_name(group)
                .scheduled_action_name(RECYCLE_ONCE)
                .start_time(aws_smithy_types::DateTime::from_secs(4_000_000_000))
                .desired_capacity(desired)
                .send(),
        )
        .unwrap();
    };
    put("prod-idp", 4);
    put("prod-worker", 2);
    let all = moto.block_on(moto.aws.scheduled_actions(None)).unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    moto.block_on(
        moto.aws
            .autoscaling
            .delete_scheduled_action()
            .auto_scaling_group_name("prod-worker")
            .scheduled_action_name(RECYCLE_ONCE)
            .send(),
    )
    .unwrap();
    let left = moto.block_on(moto.aws.scheduled_actions(None)).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].group, "prod-idp");
    assert_eq!(left[0].desired, Some(4));
}
