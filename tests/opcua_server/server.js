"use strict";
/**
 * A third-party OPC UA machine for the gateway's conformance tests: node-opcua, the official
 * NodeSets (DI, IA, Machinery, ISA-95 job control V2), and a press in its own vendor namespace
 * that speaks the way vendors do, not the way firmware_sim does:
 *
 *   /Objects/Machinery:Machines/acme:Press7
 *     acme:Nameplate/{acme:Vendor, acme:Model, acme:Serial}
 *     acme:Status/{acme:State (RUNNING/IDLE/SETUP), acme:Running (Boolean), acme:Fault (Boolean)}
 *     acme:Process/{acme:Temperature (°C), acme:SpindleSpeed (rpm), acme:PartsProduced, acme:DoorOpen}
 *     acme:HighTemperature   ExclusiveLimitAlarmType, ConditionName "High Temperature", on Temperature
 *     acme:DoorOpenAlarm     OffNormalAlarmType, ConditionName "Door Open", on DoorOpen
 *     acme:JobOrderControl   ISA95JobOrderReceiverObjectType (Store, StoreAndStart, Start, Cancel, Clear)
 *     acme:JobOrderResults   ISA95JobResponseProviderObjectType (JobOrderResponseList)
 *
 * Usage: node server.js --port PORT [--job-seconds S]
 *
 * Control channel: one JSON object a line on stdin, one JSON answer a line on stdout
 * ({"id": .., "ok": true, "result": ..} or {"id": .., "ok": false, "error": ..}). The first line
 * on stdout is {"event": "ready", "endpoint": ...} once the server listens. Operations:
 *   {"op": "set", "name": "Temperature", "value": 95.5, "status": "Good"}   (value null: Bad-with-null)
 *   {"op": "alarm", "name": "HighTemperature"}   the condition's state and acknowledgements
 *   {"op": "jobs"}                                the job orders and their states
 *   {"op": "finish", "job": "J1", "quantity": 3}  a running job order ends with its quantity
 *   {"op": "abort", "job": "J1"}                  a job order is aborted by the machine
 *   {"op": "configure", "job_seconds": 1.5, "max_job_orders": 4}
 */

const readline = require("node:readline");
const {
  OPCUAServer,
  DataType,
  VariantArrayType,
  StatusCodes,
  StatusCode,
  standardUnits,
  coerceLocalizedText,
  ConditionInfo,
} = require("node-opcua");
const { nodesets } = require("node-opcua-nodesets");

const VENDOR_NS = "urn:acme-machines:press";
const MACHINERY_NS = "http://opcfoundation.org/UA/Machinery/";
const JOBCONTROL_NS = "http://opcfoundation.org/UA/ISA95-JOBCONTROL_V2/";

// OPC 10031-4 ReturnStatus bits, as the gateway decodes them (protocols.enums.ReturnStatus).
const RETURN = {
  NO_ERROR: 1,
  UNKNOWN_JOB_ORDER_ID: 2,
  INVALID_JOB_ORDER_COMMAND: 4,
  INVALID_JOB_ORDER_STATUS: 8,
  UNABLE_TO_ACCEPT_JOB_ORDER: 16,
};

// ISA95JobOrderReceiverObjectType states (browse names and numbers of the state machine).
const STATES = {
  NotAllowedToStart: 1,
  AllowedToStart: 2,
  Running: 3,
  Interrupted: 4,
  Ended: 5,
  Aborted: 6,
};

function options(argv) {
  const result = { port: 4840, jobSeconds: 1.0 };
  for (let i = 2; i < argv.length; i += 2) {
    if (argv[i] === "--port") result.port = Number(argv[i + 1]);
    else if (argv[i] === "--job-seconds") result.jobSeconds = Number(argv[i + 1]);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return result;
}

class Press {
  constructor(addressSpace, settings) {
    this.addressSpace = addressSpace;
    this.jobSeconds = settings.jobSeconds;
    this.maxJobOrders = 4;
    this.jobs = new Map(); // id → {order, state, quantity, produced, start, end, timer}
    this.acknowledgements = [];
    this.ns = addressSpace.registerNamespace(VENDOR_NS);
    this.jobNs = addressSpace.getNamespaceIndex(JOBCONTROL_NS);
    this.variables = {};
    this.alarms = {};
    this.build();
  }

  build() {
    const { addressSpace, ns } = this;
    const server = addressSpace.rootFolder.objects.server;
    const machines = addressSpace.findNode(`ns=${addressSpace.getNamespaceIndex(MACHINERY_NS)};i=1001`);
    const press = ns.addObject({
      browseName: "Press7",
      organizedBy: machines,
      eventNotifier: 1,
      notifierOf: server,
    });
    this.press = press;
    const nameplate = ns.addObject({ browseName: "Nameplate", componentOf: press });
    this.add(nameplate, "Vendor", DataType.String, "ACME Presses");
    this.add(nameplate, "Model", DataType.String, "HP-400");
    this.add(nameplate, "Serial", DataType.String, "AC-0007");
    const status = ns.addObject({ browseName: "Status", componentOf: press });
    this.add(status, "State", DataType.String, "IDLE");
    this.add(status, "Running", DataType.Boolean, false);
    this.add(status, "Fault", DataType.Boolean, false);
    const process = ns.addObject({ browseName: "Process", componentOf: press, eventNotifier: 1 });
    this.analog(process, "Temperature", 21.5, standardUnits.degree_celsius, "Ram temperature");
    this.analog(process, "SpindleSpeed", 0, standardUnits.revolutions_per_minute, "Main drive speed");
    this.add(process, "PartsProduced", DataType.UInt32, 0);
    this.add(process, "DoorOpen", DataType.Boolean, false);
    this.buildAlarms(process);
    this.buildJobControl(press);
  }

  add(parent, name, dataType, value) {
    const variable = this.ns.addVariable({
      browseName: name,
      componentOf: parent,
      dataType,
      accessLevel: "CurrentRead",
      value: { dataType, value },
    });
    this.variables[name] = variable;
    return variable;
  }

  analog(parent, name, value, unit, description) {
    const variable = this.ns.addAnalogDataItem({
      browseName: name,
      componentOf: parent,
      description,
      dataType: DataType.Double,
      engineeringUnits: unit,
      engineeringUnitsRange: { low: -1000, high: 100000 },
      value: { dataType: DataType.Double, value },
    });
    this.variables[name] = variable;
    return variable;
  }

  buildAlarms(process) {
    const { ns, addressSpace } = this;
    const temperature = this.variables.Temperature;
    const door = this.variables.DoorOpen;
    process.addReference({ referenceType: "HasEventSource", nodeId: temperature });
    process.addReference({ referenceType: "HasEventSource", nodeId: door });
    this.press.addReference({ referenceType: "HasNotifier", nodeId: process });
    const high = ns.instantiateExclusiveLimitAlarm("ExclusiveLimitAlarmType", {
      browseName: "HighTemperature",
      conditionName: "High Temperature",
      componentOf: this.press,
      conditionSource: temperature,
      inputNode: temperature,
      highLimit: 80,
      lowLimit: -40,
      optionals: ["ConfirmedState", "Confirm"],
    });
    high.calculateConditionInfo = (state, active, value) =>
      new ConditionInfo({
        message: active ? `Ram temperature ${Number(value).toFixed(1)} °C above 80 °C` : "Back to normal",
        severity: active ? 700 : 100,
        quality: StatusCodes.Good,
        retain: Boolean(active),
      });
    const normal = ns.addVariable({
      browseName: "DoorNormalState",
      componentOf: this.press,
      dataType: DataType.Boolean,
      value: { dataType: DataType.Boolean, value: false },
    });
    const doorAlarm = ns.instantiateOffNormalAlarm({
      browseName: "DoorOpenAlarm",
      conditionName: "Door Open",
      componentOf: this.press,
      conditionSource: door,
      inputNode: door,
      normalState: normal,
    });
    doorAlarm.calculateConditionInfo = (state, active) =>
      new ConditionInfo({
        message: active ? "Safety door open" : "Safety door closed",
        severity: active ? 400 : 100,
        quality: StatusCodes.Good,
        retain: Boolean(active),
      });
    for (const alarm of [high, doorAlarm]) {
      alarm.setEnabledState(true);
      alarm.on("acknowledged", (eventId, comment) => {
        this.acknowledgements.push({
          alarm: alarm.browseName.name,
          eventId: eventId ? eventId.toString("hex") : null,
          comment: comment ? comment.text : null,
        });
      });
    }
    this.alarms = { HighTemperature: high, DoorOpenAlarm: doorAlarm };
    addressSpace.installAlarmsAndConditionsService();
  }

  // Job control ----------------------------------------------------------------------------

  buildJobControl(press) {
    const { addressSpace, ns, jobNs } = this;
    const receiverType = addressSpace.findObjectType("ISA95JobOrderReceiverObjectType", jobNs);
    const providerType = addressSpace.findObjectType("ISA95JobResponseProviderObjectType", jobNs);
    const receiver = receiverType.instantiate({
      browseName: { name: "JobOrderControl", namespaceIndex: ns.index },
      namespace: ns,
      componentOf: press,
      optionalsAll: false,
      optionals: ["Store", "StoreAndStart", "Start", "Cancel", "Clear", "Abort"],
    });
    const provider = providerType.instantiate({
      browseName: { name: "JobOrderResults", namespaceIndex: ns.index },
      namespace: ns,
      componentOf: press,
      optionals: ["JobOrderResponseList"],
    });
    this.orderList = receiver.getComponentByName("JobOrderList", jobNs);
    this.responseList = provider.getComponentByName("JobOrderResponseList", jobNs);
    this.maxDownloadable = receiver.getPropertyByName("MaxDownloadableJobOrders", jobNs);
    this.maxDownloadable.setValueFromSource({ dataType: DataType.UInt16, value: this.maxJobOrders });
    const bind = (name, handler) =>
      receiver.getMethodByName(name, jobNs).bindMethod(async (inputs, _context) => {
        let status;
        try {
          status = handler(inputs.map((v) => v.value));
        } catch (err) {
          process.stderr.write(`${name} failed: ${err.stack}\n`);
          status = RETURN.INVALID_JOB_ORDER_COMMAND;
        }
        return {
          statusCode: StatusCodes.Good,
          outputArguments: [{ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [0, status] }],
        };
      });
    bind("Store", ([order]) => this.store(order, false));
    bind("StoreAndStart", ([order]) => this.store(order, true));
    bind("Start", ([id]) => this.command(id, ["AllowedToStart"], (job) => this.start(job)));
    bind("Cancel", ([id]) => this.command(id, ["AllowedToStart", "NotAllowedToStart"], (job) => this.end(job, "Aborted")));
    bind("Abort", ([id]) => this.command(id, ["Running", "Interrupted"], (job) => this.end(job, "Aborted")));
    bind("Clear", ([id]) =>
      this.command(id, ["Ended", "Aborted"], (job) => {
        this.jobs.delete(job.id);
      }),
    );
    this.publishJobs();
  }

  store(order, start) {
    if (!order || typeof order.jobOrderID !== "string" || order.jobOrderID === "") {
      return RETURN.INVALID_JOB_ORDER_COMMAND;
    }
    if (this.jobs.has(order.jobOrderID)) return RETURN.INVALID_JOB_ORDER_STATUS;
    const waiting = [...this.jobs.values()].filter((j) => !["Ended", "Aborted"].includes(j.state));
    if (waiting.length >= this.maxJobOrders) return RETURN.UNABLE_TO_ACCEPT_JOB_ORDER;
    const job = { id: order.jobOrderID, order, state: "AllowedToStart", quantity: quantityOf(order), produced: 0, autostart: start };
    this.jobs.set(job.id, job);
    if (start) this.start(job);
    this.publishJobs();
    return RETURN.NO_ERROR;
  }

  command(id, allowed, action) {
    const job = this.jobs.get(id);
    if (!job) return RETURN.UNKNOWN_JOB_ORDER_ID;
    if (!allowed.includes(job.state)) return RETURN.INVALID_JOB_ORDER_STATUS;
    action(job);
    this.publishJobs();
    return RETURN.NO_ERROR;
  }

  start(job) {
    if ([...this.jobs.values()].some((j) => j.state === "Running")) return; // waits its turn
    job.state = "Running";
    job.start = new Date();
    this.setStatus("RUNNING", true);
    if (this.jobSeconds > 0) {
      job.timer = setTimeout(() => this.finish(job.id, job.quantity), this.jobSeconds * 1000);
    }
  }

  finish(id, quantity) {
    const job = this.jobs.get(id);
    if (!job || job.state !== "Running") throw new Error(`job ${id} is not running`);
    job.produced = quantity ?? job.quantity;
    const parts = this.variables.PartsProduced;
    parts.setValueFromSource({ dataType: DataType.UInt32, value: parts.readValue().value.value + job.produced });
    this.end(job, "Ended");
  }

  end(job, state) {
    clearTimeout(job.timer);
    const wasRunning = job.state === "Running";
    job.state = state;
    job.end = new Date();
    if (wasRunning) {
      this.setStatus("IDLE", false);
      const next = [...this.jobs.values()].find((j) => j.state === "AllowedToStart" && j.autostart);
      if (next) this.start(next);
    }
    this.publishJobs();
  }

  setStatus(state, running) {
    this.variables.State.setValueFromSource({ dataType: DataType.String, value: state });
    this.variables.Running.setValueFromSource({ dataType: DataType.Boolean, value: running });
  }

  publishJobs() {
    const { addressSpace, jobNs } = this;
    const make = (name, fields) => addressSpace.constructExtensionObject(addressSpace.findDataType(name, jobNs), fields);
    const state = (job) => [
      make("ISA95StateDataType", {
        stateText: coerceLocalizedText(job.state),
        stateNumber: STATES[job.state],
      }),
    ];
    const orders = [...this.jobs.values()].map((job) =>
      make("ISA95JobOrderAndStateDataType", { jobOrder: job.order, state: state(job) }),
    );
    const responses = [...this.jobs.values()]
      .filter((job) => job.start || job.state === "Aborted")
      .map((job) =>
        make("ISA95JobResponseDataType", {
          jobResponseID: `${job.id}-response`,
          jobOrderID: job.id,
          startTime: job.start,
          endTime: job.end,
          jobState: state(job),
          materialActuals: [
            make("ISA95MaterialDataType", {
              materialUse: "Produced",
              quantity: String(job.produced),
            }),
          ],
        }),
      );
    const array = (value) => ({ dataType: DataType.ExtensionObject, arrayType: VariantArrayType.Array, value });
    this.orderList.setValueFromSource(array(orders));
    this.responseList.setValueFromSource(array(responses));
  }

  // Control channel -------------------------------------------------------------------------

  handle(request) {
    switch (request.op) {
      case "set":
        return this.set(request);
      case "alarm":
        return this.alarmInfo(request.name);
      case "jobs":
        return [...this.jobs.values()].map((j) => ({ id: j.id, state: j.state, quantity: j.quantity, produced: j.produced }));
      case "finish":
        this.finish(request.job, request.quantity);
        return null;
      case "abort":
        return this.command(request.job, ["Running", "Interrupted", "AllowedToStart"], (job) => this.end(job, "Aborted"));
      case "configure":
        if (request.job_seconds !== undefined) this.jobSeconds = request.job_seconds;
        if (request.max_job_orders !== undefined) {
          this.maxJobOrders = request.max_job_orders;
          this.maxDownloadable.setValueFromSource({ dataType: DataType.UInt16, value: this.maxJobOrders });
        }
        return null;
      default:
        throw new Error(`unknown op ${request.op}`);
    }
  }

  set({ name, value, status }) {
    const variable = this.variables[name];
    if (!variable) throw new Error(`no variable ${name}`);
    const dataType = variable.dataTypeObj.basicDataType;
    const statusCode = status ? StatusCodes[status] : StatusCodes.Good;
    if (!(statusCode instanceof StatusCode)) throw new Error(`unknown status ${status}`);
    const variant = value === null || value === undefined ? { dataType: DataType.Null } : { dataType, value };
    try {
      variable.setValueFromSource(variant, statusCode);
    } catch (err) {
      // node-opcua's limit alarm asserts when its input goes Bad while the alarm is inactive
      // (it signals the unchanged condition again); the value itself is set by then.
      if (!String(err.message).includes("shall we really raise an event")) throw err;
    }
    const now = variable.readValue();
    if (now.statusCode !== statusCode) throw new Error(`${name} kept ${now.statusCode.name}`);
    return null;
  }

  alarmInfo(name) {
    const alarm = this.alarms[name];
    if (!alarm) throw new Error(`no alarm ${name}`);
    const branch = alarm.currentBranch();
    return {
      conditionId: alarm.nodeId.toString(),
      active: branch.getActiveState(),
      acked: branch.getAckedState(),
      retain: branch.getRetain(),
      severity: branch.getSeverity(),
      acknowledgements: this.acknowledgements.filter((a) => a.alarm === name),
    };
  }
}

function quantityOf(order) {
  for (const material of order.materialRequirements || []) {
    const quantity = Number.parseInt(material.quantity, 10);
    if (Number.isFinite(quantity) && quantity > 0) return quantity;
  }
  for (const parameter of order.jobOrderParameters || []) {
    if (parameter.iD === "Quantity" || parameter.id === "Quantity") {
      const quantity = Number(parameter.value && parameter.value.value);
      if (Number.isFinite(quantity) && quantity > 0) return quantity;
    }
  }
  return 1;
}

async function main() {
  const settings = options(process.argv);
  const server = new OPCUAServer({
    port: settings.port,
    hostname: "127.0.0.1",
    nodeset_filename: [nodesets.standard, nodesets.di, nodesets.ia, nodesets.machinery, nodesets.isa95JobControl],
    buildInfo: { productName: "ACME press controller", manufacturerName: "ACME" },
    maxConnectionsPerEndpoint: 20,
  });
  await server.initialize();
  const press = new Press(server.engine.addressSpace, settings);
  await server.start();
  const write = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
  write({ event: "ready", endpoint: server.getEndpointUrl() });
  const lines = readline.createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    let request;
    try {
      request = JSON.parse(line);
      write({ id: request.id, ok: true, result: press.handle(request) });
    } catch (err) {
      write({ id: request && request.id, ok: false, error: String(err.message || err) });
    }
  });
  // The test process going away closes stdin: the server goes with it.
  lines.on("close", () => server.shutdown(0).then(() => process.exit(0)));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
