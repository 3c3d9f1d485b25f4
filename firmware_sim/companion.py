"""The official OPC UA information models every plant server loads (see nodesets/README.md).

DI, Machinery (OPC 40001-1), ISA-95 Job Control (OPC 10031-4) and Machinery Job Management
(OPC 40001-3) are imported from the vendored NodeSet files with asyncua's XML import; the
structure classes (``ISA95JobOrderDataType`` …) are generated once all files are in.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from asyncua import Server, ua

NODESET_DIR = Path(__file__).parent / "nodesets"
DI_URI = "http://opcfoundation.org/UA/DI/"
MACHINERY_URI = "http://opcfoundation.org/UA/Machinery/"
ISA95_JOB_CONTROL_URI = "http://opcfoundation.org/UA/ISA95-JOBCONTROL_V2/"
MACHINERY_JOBS_URI = "http://opcfoundation.org/UA/Machinery/Jobs/"
NODESET_FILES = (
    "Opc.Ua.Di.NodeSet2.xml",
    "Opc.Ua.IA.NodeSet2.xml",
    "Opc.Ua.Machinery.NodeSet2.xml",
    "opc.ua.isa95-jobcontrol.nodeset2.xml",
    "Opc.Ua.Machinery.Jobs.Nodeset2.xml",
)
# Numeric node ids fixed by the NodeSets, in their own namespaces.
MACHINES_FOLDER = 1001  # Machinery: Objects/Machines
ITEM_STATE_TYPE = 1002  # Machinery: MachineryItemState_StateMachineType
OPERATION_MODE_TYPE = 1008  # Machinery: MachineryOperationModeStateMachineType
JOB_MANAGEMENT_TYPE = 1003  # Machinery Jobs: JobManagementType
RECEIVER_TYPE = 1002  # ISA-95 Job Control: ISA95JobOrderReceiverObjectType
JOB_ORDER_TYPE = 3008  # ISA95JobOrderDataType
JOB_ORDER_AND_STATE_TYPE = 3015  # ISA95JobOrderAndStateDataType
JOB_RESPONSE_TYPE = 3013  # ISA95JobResponseDataType
STATE_TYPE = 3006  # ISA95StateDataType
PARAMETER_TYPE = 3003  # ISA95ParameterDataType
MATERIAL_TYPE = 3010  # ISA95MaterialDataType
WORK_MASTER_TYPE = 3007  # ISA95WorkMasterDataType

_DESIGN_TOOL_ONLY = re.compile(
    r'<(UA\w+)\s[^>]*DesignToolOnly="true"[^>]*?(?:/>|>.*?</\1>)', flags=re.DOTALL
)
_IMPORT_NOISE = ("overwriting parent target", "could not find out if this is a struct")


class _ImportNoise(logging.Filter):
    """asyncua warns about enumerations and option sets it need not generate classes for."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in _IMPORT_NOISE)


logging.getLogger("asyncua.common.xmlimporter").addFilter(_ImportNoise())


@dataclass(frozen=True)
class Namespaces:
    """Where the loaded models landed in one server."""

    di: int
    machinery: int
    job_control: int
    machinery_jobs: int

    def machinery_id(self, identifier: int) -> ua.NodeId:
        return numeric_id(identifier, self.machinery)

    def job_control_id(self, identifier: int) -> ua.NodeId:
        return numeric_id(identifier, self.job_control)

    def jobs_id(self, identifier: int) -> ua.NodeId:
        return numeric_id(identifier, self.machinery_jobs)


def numeric_id(identifier: int, namespace: int) -> ua.NodeId:
    return ua.NodeId(ua.Int32(identifier), ua.Int16(namespace))


@cache
def nodeset_xml(name: str) -> str:
    """A vendored NodeSet without its design-tool-only nodes (read once per process)."""
    return _DESIGN_TOOL_ONLY.sub("", (NODESET_DIR / name).read_text(encoding="utf-8"))


async def load_companion_models(server: Server) -> Namespaces:
    """Import the NodeSets into a server that is initialised but not started."""
    for name in NODESET_FILES:
        await server.import_xml(xmlstring=nodeset_xml(name), auto_load_definitions=False)
    await server.load_data_type_definitions()
    uris = await server.get_namespace_array()
    return Namespaces(
        di=uris.index(DI_URI),
        machinery=uris.index(MACHINERY_URI),
        job_control=uris.index(ISA95_JOB_CONTROL_URI),
        machinery_jobs=uris.index(MACHINERY_JOBS_URI),
    )


def structure(data_type: ua.NodeId) -> type:
    """The Python class asyncua generated for a structure data type."""
    return ua.extension_objects_by_datatype[data_type]
