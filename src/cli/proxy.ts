#!/usr/bin/env node
import './early'
import { runProgram } from './run'
import { proxy } from './programs'

void runProgram(proxy, process.argv.slice(2))
