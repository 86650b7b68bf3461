// Goal: every object the Helm chart renders is a valid Kubernetes object of its kind, and the
// objects fit together: probes on the right endpoints, secrets only by reference, selectors
// that select the right pods, and a blue-green pair whose live Service moves from blue to
// green with the patch deploy/blue-green/switch.sh applies.
//
// Usage: node tests/deploy/validate.mjs DIR
// DIR holds what tests/deploy/chart_test.sh rendered with `helm template`:
//   default.yaml, blue.yaml, green.yaml, single-node.yaml, monitoring.yaml (blue with the
//   ServiceMonitor, the PrometheusRule and the inbox-length metric in the autoscaler),
//   monitoring-rules.yml (the rules it was given),
//   switch-patch.json (the patch switch.sh sent to move the live Service to green).
// Validation uses the npm packages kubernetes-models (the Kubernetes API types) and
// @kubernetes-models/prometheus-operator (the monitoring.coreos.com CRDs). Their validators
// check types, formats and required fields, not unknown fields; the assertions below check
// by name the fields the product depends on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ConfigMap, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PrometheusRule, ServiceMonitor } from
  '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

const models = {
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

const dir = process.argv[2];
assert.ok(dir, 'usage: node tests/deploy/validate.mjs DIR');
let checks = 0;
function check(name, fn) {
  fn();
  checks += 1;
  console.log(`ok ${checks} ${name}`);
}

// Parses one rendered case and validates every object against its model.
function load(name) {
  const text = readFileSync(join(dir, `${name}.yaml`), 'utf8');
  const objects = [];
  for (const document of parseAllDocuments(text)) {
    assert.deepEqual(document.errors, [], `${name}: YAML errors`);
    const object = document.toJS();
    if (object === null) continue;  // an empty document (a template that rendered nothing)
    const key = `${object.apiVersion}/${object.kind}`;
    const Model = models[key];
    assert.ok(Model, `${name}: no model for ${key} (${object.metadata?.name})`);
    try {
      new Model(object).validate();
    } catch (error) {
      assert.fail(`${name}: ${key} ${object.metadata?.name} is invalid: ${error.message}`);
    }
    // DNS-1123 label: Services and most names must be one.
    assert.match(object.metadata.name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
      `${name}: ${key} name`);
    objects.push(object);
  }
  check(`${name}: ${objects.length} objects valid`, () => assert.ok(objects.length > 0));
  return objects;
}

const kindsOf = (objects) => objects.map((o) => o.kind).sort();
const only = (objects, kind) => {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0];
};
// True when every label of `selector` is on `labels`.
const selects = (selector, labels) =>
  Object.entries(selector).every(([key, value]) => labels?.[key] === value);

// The checks that hold for every release of the chart.
function checkRelease(name, objects, { store }) {
  const deployment = only(objects, 'Deployment');
  const pod = deployment.spec.template;
  const container = pod.spec.containers.find((c) => c.name === 'flashsale');
  check(`${name}: deployment selector selects its own pods`, () => {
    assert.ok(selects(deployment.spec.selector.matchLabels, pod.metadata.labels));
  });
  check(`${name}: port 8080 named http`, () => {
    assert.deepEqual(container.ports.map((p) => [p.name, p.containerPort]), [['http', 8080]]);
  });
  check(`${name}: startup and readiness on /readyz, liveness on /healthz`, () => {
    assert.equal(container.startupProbe.httpGet.path, '/readyz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      assert.equal(container[probe].httpGet.port, 'http', probe);
    }
  });
  check(`${name}: preStop delay within the grace period`, () => {
    const command = container.lifecycle.preStop.exec.command;
    assert.equal(command[0], '/bin/sleep');
    const sleep = Number(command[1]);
    assert.ok(sleep > 0);
    assert.ok(pod.spec.terminationGracePeriodSeconds > sleep + 10,
      'grace period leaves the server time to drain after the preStop sleep');
  });
  check(`${name}: resources requested and limited`, () => {
    for (const kind of ['requests', 'limits']) {
      assert.ok(container.resources[kind].cpu, `${kind}.cpu`);
      assert.ok(container.resources[kind].memory, `${kind}.memory`);
    }
  });
  check(`${name}: non-root, read-only root file system`, () => {
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.equal(pod.spec.securityContext.runAsUser, 10001);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  });
  check(`${name}: pods spread by anti-affinity`, () => {
    const terms = pod.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    assert.ok(selects(terms[0].podAffinityTerm.labelSelector.matchLabels, pod.metadata.labels));
  });

  const env = Object.fromEntries(container.env.map((e) => [e.name, e]));
  check(`${name}: secrets only by reference`, () => {
    for (const inline of ['FLASHSALE_JWT_SECRET', 'FLASHSALE_ADMIN_TOKEN']) {
      assert.equal(env[inline], undefined, `${inline} inline`);
    }
    const secretVolumes = Object.fromEntries(pod.spec.volumes.filter((v) => v.secret)
      .map((v) => [v.name, v.secret]));
    for (const variable of ['FLASHSALE_JWT_SECRET_FILE', 'FLASHSALE_ADMIN_TOKEN_FILE']) {
      const path = env[variable].value;
      const mount = container.volumeMounts.find((m) => path.startsWith(`${m.mountPath}/`));
      assert.ok(mount, `${variable}=${path} is on a mounted volume`);
      const secret = secretVolumes[mount.name];
      assert.ok(secret, `${variable} is on a Secret volume`);
      const file = path.slice(mount.mountPath.length + 1);
      assert.ok(secret.items.some((item) => item.path === file), `${variable}: item ${file}`);
    }
    if (store === 'postgres') {
      assert.ok(env.FLASHSALE_STORE.valueFrom.secretKeyRef.name, 'FLASHSALE_STORE from a Secret');
    } else {
      assert.equal(env.FLASHSALE_STORE, undefined);
    }
  });
  check(`${name}: listen address and data directory on the data volume`, () => {
    assert.equal(env.FLASHSALE_LISTEN.value, '0.0.0.0:8080');
    const data = container.volumeMounts.find((m) => m.mountPath === env.FLASHSALE_DATA_DIR.value);
    assert.ok(data, 'the data directory is a volume');
    const volume = pod.spec.volumes.find((v) => v.name === data.name);
    if (store === 'sqlite') {
      const claim = only(objects, 'PersistentVolumeClaim');
      assert.equal(volume.persistentVolumeClaim.claimName, claim.metadata.name);
      assert.equal(deployment.spec.strategy.type, 'Recreate');
      assert.equal(deployment.spec.replicas, 1);
    } else {
      assert.ok(volume.emptyDir, 'postgres: the data directory is scratch space');
      assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
    }
  });
  check(`${name}: ConfigMap of FLASHSALE_* variables, read by the pods`, () => {
    const configMap = only(objects, 'ConfigMap');
    assert.equal(container.envFrom[0].configMapRef.name, configMap.metadata.name);
    for (const key of Object.keys(configMap.data)) assert.match(key, /^FLASHSALE_[A-Z0-9_]+$/);
  });
  check(`${name}: the release's Service selects its pods on port http`, () => {
    const own = objects.filter((o) => o.kind === 'Service' && o.metadata.name === deployment.metadata.name);
    assert.equal(own.length, 1);
    assert.ok(selects(own[0].spec.selector, pod.metadata.labels));
    assert.equal(own[0].spec.ports[0].targetPort, 'http');
  });
  for (const budget of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
    check(`${name}: disruption budget covers the pods`, () => {
      assert.deepEqual(budget.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    });
  }
  for (const autoscaler of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
    check(`${name}: autoscaler scales the Deployment on CPU`, () => {
      assert.equal(autoscaler.spec.scaleTargetRef.kind, 'Deployment');
      assert.equal(autoscaler.spec.scaleTargetRef.name, deployment.metadata.name);
      assert.ok(autoscaler.spec.minReplicas <= autoscaler.spec.maxReplicas);
      assert.equal(autoscaler.spec.metrics[0].resource.name, 'cpu');
      assert.equal(deployment.spec.replicas, undefined, 'the HPA owns the replica count');
    });
  }
  return { deployment, pod };
}

const defaults = load('default');
check('default: the objects of a cluster release', () => {
  assert.deepEqual(kindsOf(defaults), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler',
    'PodDisruptionBudget', 'Service']);
});
checkRelease('default', defaults, { store: 'postgres' });

const single = load('single-node');
check('single-node: one pod on a volume', () => {
  assert.deepEqual(kindsOf(single), ['ConfigMap', 'Deployment', 'PersistentVolumeClaim', 'Service']);
});
checkRelease('single-node', single, { store: 'sqlite' });

const blue = load('blue');
const green = load('green');
check('blue-green: blue has the live Service, green none', () => {
  assert.deepEqual(kindsOf(blue), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler',
    'PodDisruptionBudget', 'Service', 'Service']);
  assert.deepEqual(kindsOf(green), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler',
    'PodDisruptionBudget', 'Service']);
});
const bluePods = checkRelease('blue', blue, { store: 'postgres' }).pod;
const greenPods = checkRelease('green', green, { store: 'postgres' }).pod;
check('blue-green: both releases fit in one namespace (no name taken twice)', () => {
  const names = [...blue, ...green].map((o) => `${o.kind}/${o.metadata.name}`);
  assert.equal(new Set(names).size, names.length, names.join(' '));
});
check('blue-green: switch.sh finds each color\'s Deployment by its labels', () => {
  // switch.sh: kubectl get deployments -l app.kubernetes.io/part-of=flashsale,flashsale/color=C
  for (const [color, objects] of [['blue', blue], ['green', green]]) {
    const found = [...blue, ...green].filter((o) => o.kind === 'Deployment' &&
      selects({ 'app.kubernetes.io/part-of': 'flashsale', 'flashsale/color': color }, o.metadata.labels));
    assert.deepEqual(found, [only(objects, 'Deployment')], color);
  }
});
const live = blue.find((o) => o.kind === 'Service' && o.metadata.labels['app.kubernetes.io/component'] === 'live');
check('blue-green: the live Service selects blue, not green', () => {
  assert.ok(live, 'live Service');
  assert.ok(selects(live.spec.selector, bluePods.metadata.labels));
  assert.ok(!selects(live.spec.selector, greenPods.metadata.labels));
  assert.equal(live.metadata.annotations['helm.sh/resource-policy'], 'keep');
});
check('blue-green: the switch patch moves the live Service to green, and only there', () => {
  const patch = JSON.parse(readFileSync(join(dir, 'switch-patch.json'), 'utf8'));
  // A JSON merge patch (RFC 7386) of the selector map.
  const switched = structuredClone(live);
  Object.assign(switched.spec.selector, patch.spec.selector);
  assert.deepEqual(Object.keys(patch), ['spec']);
  assert.deepEqual(Object.keys(patch.spec), ['selector']);
  new Service(switched).validate();
  assert.ok(selects(switched.spec.selector, greenPods.metadata.labels));
  assert.ok(!selects(switched.spec.selector, bluePods.metadata.labels));
});

const monitoring = load('monitoring');
check('monitoring: ServiceMonitor scrapes /metrics of the release Service, not the live one', () => {
  const monitor = only(monitoring, 'ServiceMonitor');
  const services = monitoring.filter((o) => o.kind === 'Service');
  const scraped = services.filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels));
  assert.equal(scraped.length, 1);
  assert.notEqual(scraped[0].metadata.labels['app.kubernetes.io/component'], 'live');
  assert.equal(monitor.spec.endpoints[0].port, scraped[0].spec.ports[0].name);
  assert.equal(monitor.spec.endpoints[0].path, '/metrics');
});
check('monitoring: the autoscaler also follows the inbox length (flashsale_queue_length)', () => {
  const autoscaler = only(monitoring, 'HorizontalPodAutoscaler');
  const pods = autoscaler.spec.metrics.filter((m) => m.type === 'Pods');
  assert.equal(pods.length, 1);
  assert.equal(pods[0].pods.metric.name, 'flashsale_queue_length');
  assert.equal(pods[0].pods.target.type, 'AverageValue');
});
check('monitoring: PrometheusRule carries exactly the rule file\'s groups', () => {
  const rule = only(monitoring, 'PrometheusRule');
  const source = parseYaml(readFileSync(join(dir, 'monitoring-rules.yml'), 'utf8'));
  assert.ok(Array.isArray(source.groups) && source.groups.length > 0, 'the rule file has groups');
  assert.deepEqual(rule.spec.groups, source.groups);
  for (const group of rule.spec.groups) {
    for (const entry of group.rules) {
      assert.ok(entry.expr, `${group.name}: every rule has an expr`);
      assert.ok(entry.alert || entry.record, `${group.name}: alert or record`);
    }
  }
});

console.log(`${checks} passed, 0 failed`);
