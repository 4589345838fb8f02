#!/usr/bin/env node
import './early'
import { runProgram } from './run'
import { server } from './programs'

void runProgram(server, process.argv.slice(2))
